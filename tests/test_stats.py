"""pass@k, bootstrap CIs and the paired tests against hand-worked and closed-form values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalkit.stats import (
    bootstrap_mean,
    mean_pass_at_k,
    paired_bootstrap_delta,
    pass_at_k,
    pass_at_k_ks,
    sign_flip_p_value,
)


@pytest.mark.parametrize("n, c, k, want", [
    (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
    (4, 1, 2, 1 - 3 / 6),  # 1 - C(3,2)/C(4,2)
    (10, 3, 1, 0.3),  # pass@1 is the fraction correct
    (16, 0, 8, 0.0),
    (8, 5, 4, 1.0),  # fewer than k wrong samples: some draw of k always holds a correct one
    (16, 4, 8, 1 - 495 / 12870),  # 1 - C(12,8)/C(16,8)
])
def test_pass_at_k_hand_worked(n, c, k, want):
    assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("n, c", [(6, 0), (6, 1), (6, 3), (7, 5), (8, 2)])
def test_pass_at_k_is_the_fraction_of_k_subsets_with_a_correct_sample(n, c):
    samples = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(samples, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets), abs=1e-12)


def test_pass_at_k_needs_k_samples_and_ladder():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    assert pass_at_k_ks(1) == [1] and pass_at_k_ks(5) == [1, 2, 4] and pass_at_k_ks(16) == [1, 2, 4, 8, 16]
    assert mean_pass_at_k([(4, 1), (4, 0), (4, 4)], 2) == pytest.approx((0.5 + 0 + 1) / 3)
    assert math.isnan(mean_pass_at_k([], 2))


def test_bootstrap_ci_matches_closed_form_normal_interval():
    # 100 problems gained, 300 unchanged: delta mean p = 0.25; the bootstrap distribution of the mean is close to
    # normal with the plug-in standard error sqrt(p (1 - p) / n).
    n, p = 400, 0.25
    base = np.zeros(n)
    cand = np.array([1.0] * 100 + [0.0] * 300)
    est = paired_bootstrap_delta(base, cand, resamples=20000, seed=1)
    se = math.sqrt(p * (1 - p) / n)
    assert est.mean == pytest.approx(p)
    assert est.low == pytest.approx(p - 1.959964 * se, abs=0.004)
    assert est.high == pytest.approx(p + 1.959964 * se, abs=0.004)
    assert est.n == n


def test_bootstrap_ci_hand_computed_exact_distribution():
    # values (0, 0, 0, 1): a resample mean is Binomial(4, 1/4) / 4, so P(0) = .316, P(.25) = .422, P(.5) = .211,
    # P(.75) = .047, P(1) = .004. The 2.5 % point is 0; the CDF passes .975 inside the mass at .75 (.949 -> .996).
    est = bootstrap_mean([0, 0, 0, 1], resamples=20000, seed=3)
    assert est.mean == 0.25 and est.low == 0.0 and est.high == 0.75


def test_paired_delta_resamples_problems_as_pairs():
    rng = np.random.default_rng(0)
    base = rng.random(50)
    d = rng.normal(0.1, 0.05, 50)
    paired = paired_bootstrap_delta(base, base + d, resamples=3000, seed=7)
    direct = bootstrap_mean(d, resamples=3000, seed=7)
    # the per-problem baseline level cancels: only the differences matter
    assert (paired.mean, paired.low, paired.high) == pytest.approx((direct.mean, direct.low, direct.high))
    with pytest.raises(ValueError):
        paired_bootstrap_delta([1, 2], [1])


def test_sign_flip_p_value_exact_cases():
    assert sign_flip_p_value([0, 0, 0]) == 1.0
    assert sign_flip_p_value([-1, -1, -1, -1] + [0] * 26) == pytest.approx(2 / 16)  # exact McNemar, 4 discordant
    assert sign_flip_p_value([-1] * 12) == pytest.approx(2 / 2**12)
    assert sign_flip_p_value([1, -1]) == 1.0
    # fractional deltas (several samples per problem): patterns with |sum| >= 1.0 of (+-0.5, +-0.25, +-0.25)
    assert sign_flip_p_value([0.5, 0.25, 0.25]) == pytest.approx(2 / 8)


def test_sign_flip_monte_carlo_matches_binomial_sign_test():
    # 30 discordant problems (beyond exact enumeration), 20 lost and 10 gained: two-sided sign test
    d = [-1.0] * 20 + [1.0] * 10
    want = 2 * sum(math.comb(30, j) for j in range(20, 31)) / 2**30
    assert sign_flip_p_value(d, resamples=40000, seed=2) == pytest.approx(want, abs=0.01)
