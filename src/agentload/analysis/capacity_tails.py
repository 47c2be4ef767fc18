"""Exact binomial, Poisson and normal tails for capacity verdicts, without scipy (the core
depends on numpy only): sums of the probability mass in log space, O(n)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def binom_cdf(k: int, n: int, p: float | np.floating[Any]) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    i = np.arange(n + 1, dtype=np.float64)
    log_fact = _log_factorials(n)
    log_pmf = (
        log_fact[n] - log_fact - log_fact[::-1] + i * math.log(p) + (n - i) * math.log1p(-float(p))
    )
    return _share(log_pmf, k)


def binom_sf(k: int, n: int, p: float | np.floating[Any]) -> float:
    """P(X > k)."""
    return max(0.0, 1.0 - binom_cdf(k, n, p)) if k < n else 0.0


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean)."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    top = max(k, int(mean + 40 * math.sqrt(mean) + 40))  # the tail beyond is negligible
    i = np.arange(top + 1, dtype=np.float64)
    log_pmf = i * math.log(mean) - mean - _log_factorials(top)
    return _share(log_pmf, k)


def poisson_sf(k: int, mean: float) -> float:
    return max(0.0, 1.0 - poisson_cdf(k, mean))


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _share(log_pmf: np.ndarray[Any, Any], k: int) -> float:
    """sum(pmf[:k+1]) / sum(pmf), stable in log space."""
    top = float(log_pmf.max())
    weights = np.exp(log_pmf - top)
    return float(min(1.0, weights[: k + 1].sum() / weights.sum()))


def _log_factorials(n: int) -> np.ndarray[Any, Any]:
    """log(i!) for i = 0..n."""
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))))
