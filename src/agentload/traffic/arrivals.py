"""Arrival processes for the open workload model: when each request or session starts.

A process maps a seeded ``numpy.random.Generator`` to a lazy, non-decreasing sequence of
offsets in seconds from t0, so the same seed always gives the same schedule. Nothing here
reads a clock or sleeps; the engine turns offsets into deadlines with ``schedule_ns``.

Random processes draw inter-arrival gaps in batches, so they consume the generator ahead of
what has been yielded: give each process its own generator (``rng.spawn``) rather than
sharing one with other consumers, or the sequence depends on how far each was iterated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "ARRIVAL_KINDS",
    "ArrivalProcess",
    "ConstantArrivals",
    "GammaArrivals",
    "PoissonArrivals",
    "arrival_process",
    "schedule_ns",
]

ARRIVAL_KINDS = ("constant", "poisson", "gamma")

_NS_PER_S = 1_000_000_000  # not taken from agentload.clock: that module imports asyncio
_BATCH = 4096  # gaps drawn per rng call: amortises the call cost, bounds memory


class ArrivalProcess(Protocol):
    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        """Arrival times in seconds from t0, non-decreasing; same seed, same sequence."""
        ...


def _check_rate(rate_per_s: float) -> None:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ValueError(f"arrival rate must be a finite number > 0 per second, got {rate_per_s!r}")


def _renewal(draw_gaps: Callable[[int], npt.NDArray[np.float64]]) -> Iterator[float]:
    """Cumulative sums of i.i.d. gaps, drawn a batch at a time; the first arrival is one gap
    after t0."""
    t = 0.0
    while True:
        # Summing non-negative floats onto a running total never decreases it, so the output
        # stays non-decreasing across batches despite rounding.
        offsets = t + np.cumsum(draw_gaps(_BATCH))
        t = float(offsets[-1])
        yield from offsets.tolist()


@dataclass(frozen=True, slots=True)
class ConstantArrivals:
    """Evenly spaced at 1/rate, the first at t0. Ignores the generator."""

    rate_per_s: float

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        # i / rate rather than a running sum: no drift over long runs, and exact multiples.
        return (i / self.rate_per_s for i in itertools.count())


@dataclass(frozen=True, slots=True)
class PoissonArrivals:
    """Exponential gaps with mean 1/rate: independent arrivals, dispersion 1."""

    rate_per_s: float

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        scale = 1.0 / self.rate_per_s
        return _renewal(lambda n: rng.exponential(scale, size=n))


@dataclass(frozen=True, slots=True)
class GammaArrivals:
    """Gamma gaps with shape ``burstiness`` and mean 1/rate, as vLLM's ``--burstiness``.

    Shape 1 is Poisson; below 1 arrivals clump, above 1 they are more regular. The squared
    coefficient of variation of the gaps is 1/burstiness, which is also the long-window
    variance/mean of the counts.
    """

    rate_per_s: float
    burstiness: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)
        if not (math.isfinite(self.burstiness) and self.burstiness > 0):
            raise ValueError(f"burstiness must be a finite number > 0, got {self.burstiness!r}")

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        shape = self.burstiness
        scale = 1.0 / (self.rate_per_s * shape)
        return _renewal(lambda n: rng.gamma(shape, scale, size=n))


def arrival_process(kind: str, rate_per_s: float, burstiness: float = 1.0) -> ArrivalProcess:
    """Build a process by name: "constant", "poisson" or "gamma". Every other kind (cox,
    load profiles, trace replay) is built from plain values by ``arrivals_from_spec``."""
    # A burstiness that would be silently ignored is almost surely a mistaken kind.
    if kind != "gamma" and burstiness != 1.0:
        raise ValueError(f"burstiness applies only to kind 'gamma', not {kind!r}")
    if kind == "constant":
        return ConstantArrivals(rate_per_s)
    if kind == "poisson":
        return PoissonArrivals(rate_per_s)
    if kind == "gamma":
        return GammaArrivals(rate_per_s, burstiness)
    raise ValueError(f"unknown arrival kind {kind!r}; expected one of {', '.join(ARRIVAL_KINDS)}")


def schedule_ns(
    process: ArrivalProcess,
    rng: np.random.Generator,
    *,
    duration_s: float | None,
    max_count: int | None,
) -> Iterator[int]:
    """Offsets of ``process`` in integer nanoseconds, lazily, ending before the first offset
    >= ``duration_s`` and after ``max_count`` offsets, whichever comes first.

    Arguments are checked here, not on first iteration, so a bad plan fails where it is built.
    """
    if duration_s is None and max_count is None:
        raise ValueError("schedule_ns needs duration_s or max_count (or both) to end")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s!r}")
    if max_count is not None and max_count < 0:
        raise ValueError(f"max_count must be >= 0, got {max_count!r}")
    # Compared in ns, after rounding, so every yielded value is strictly below the bound.
    end_ns = None if duration_s is None else round(duration_s * _NS_PER_S)
    return _schedule(process.offsets_s(rng), end_ns, max_count)


def _schedule(offsets: Iterator[float], end_ns: int | None, max_count: int | None) -> Iterator[int]:
    if max_count is not None:
        offsets = itertools.islice(offsets, max_count)
    for offset in offsets:
        ns = round(offset * _NS_PER_S)
        if end_ns is not None and ns >= end_ns:
            return
        yield ns
