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
