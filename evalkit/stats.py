"""Statistics over per-problem outcomes: pass@k (unbiased), bootstrap CIs over problems, paired deltas.

Problems are the unit of resampling: samples of one problem are not independent draws of the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int  # problems


def bootstrap_mean(values: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95) -> Estimate:
    """Mean of per-problem scores with a percentile bootstrap CI (problems resampled with replacement)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return Estimate(float(x.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)), int(x.size))


def paired_bootstrap_delta(
    base: Sequence[float], cand: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95
) -> Estimate:
    """Mean of (cand - base) over paired problems, with a bootstrap CI that resamples problems as pairs."""
    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    if b.shape != c.shape:
        raise ValueError("paired samples must have the same length")
    return bootstrap_mean(c - b, resamples=resamples, seed=seed, level=level)


# pass@k over problems ----------------------------------------------------------------------------------------

PASS_K_LADDER = (1, 2, 4, 8, 16, 32, 64)


def pass_at_k_ks(n_min: int, ladder: Sequence[int] = PASS_K_LADDER) -> list[int]:
    """The k of the ladder that every problem supports (k <= the fewest samples any problem has)."""
    return [k for k in ladder if k <= n_min]


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Benchmark pass@k: the unbiased per-problem estimate averaged over problems; counts are (n, c) pairs."""
    if not counts:
        return float("nan")
    return float(np.mean([pass_at_k(n, c, k) for n, c in counts]))


# paired tests -----------------------------------------------------------------------------------------------

EXACT_SIGN_FLIP_MAX = 16  # up to 2**16 sign patterns are enumerated; beyond that, random patterns are drawn


def sign_flip_p_value(deltas: Sequence[float], resamples: int = 20000, seed: int = 0) -> float:
    """Two-sided p-value of the paired sign-flip (permutation) test of "mean delta = 0".

    Under the null, each problem's delta is as likely to be +d as -d, so the observed |sum| is compared with the
    |sum| of every sign pattern (exact up to EXACT_SIGN_FLIP_MAX non-zero deltas, Monte Carlo with the +1
    correction beyond). For one sample per problem this is the exact McNemar test. It stays honest where the
    percentile bootstrap does not: with 4 of 30 problems flipped the same way the bootstrap CI excludes 0,
    while the chance of that under the null is 2 / 2**4 = 0.125.
    """
    d = np.asarray(deltas, dtype=float)
    d = d[np.abs(d) > 1e-12]
    if d.size == 0:
        return 1.0
    observed = abs(d.sum()) - 1e-9  # tolerance: patterns as extreme as the observed one count
    if d.size <= EXACT_SIGN_FLIP_MAX:
        patterns = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
        return float(np.mean(np.abs(patterns @ d) >= observed))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, resamples, 2000):
        signs = rng.choice((-1.0, 1.0), size=(min(2000, resamples - start), d.size))
        hits += int(np.sum(np.abs(signs @ d) >= observed))
    return (hits + 1) / (resamples + 1)
