"""Draws from a scenario's ``Distribution`` (pure: the generator is passed in).

Every draw is clamped to ``[min, max]``; counts are rounded after clamping the real value,
so a count never leaves the bounds either.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agentload.config.sessions import Distribution

Sampler = Callable[[np.random.Generator], float]


def sampler(dist: Distribution) -> Sampler:
    """A function drawing one value per call from ``rng``."""
    low = dist.min
    high = float("inf") if dist.max is None else dist.max

    def clamp(value: float) -> float:
        return min(high, max(low, value))

    if dist.kind == "fixed":
        assert dist.value is not None
        fixed = clamp(dist.value)
        return lambda _rng: fixed
    if dist.kind == "uniform":
        assert dist.max is not None
        lo, hi = dist.min, dist.max
        return lambda rng: lo if hi <= lo else float(rng.uniform(lo, hi))
    if dist.kind == "exponential":
        assert dist.mean is not None
        mean = dist.mean
        return lambda rng: clamp(float(rng.exponential(mean)))
    if dist.kind == "empirical":
        values = np.asarray(dist.values, dtype=float)
        weights = np.asarray(dist.weights or [1.0] * len(values), dtype=float)
        cdf = np.cumsum(weights / weights.sum())

        def empirical(rng: np.random.Generator) -> float:
            index = int(np.searchsorted(cdf, rng.random(), side="right"))
            return clamp(float(values[min(index, len(values) - 1)]))

        return empirical
    assert dist.median is not None
    median, sigma = dist.median, dist.sigma
    return lambda rng: clamp(median * float(np.exp(sigma * rng.standard_normal())))


def count_sampler(dist: Distribution, *, at_least: int = 1) -> Callable[[np.random.Generator], int]:
    """Whole numbers (turns, tokens): the draw rounded, never below ``at_least``."""
    draw = sampler(dist)
    return lambda rng: max(at_least, round(draw(rng)))


def mean_of(dist: Distribution) -> float | None:
    """The distribution's mean before clamping, where it has a closed form."""
    if dist.kind == "fixed":
        return dist.value
    if dist.kind == "uniform":
        assert dist.max is not None
        return (dist.min + dist.max) / 2
    if dist.kind == "exponential":
        return dist.mean
    if dist.kind == "empirical":
        weights = dist.weights or (1.0,) * len(dist.values)
        return sum(v * w for v, w in zip(dist.values, weights, strict=True)) / sum(weights)
    assert dist.median is not None
    return dist.median * float(np.exp(dist.sigma**2 / 2))
