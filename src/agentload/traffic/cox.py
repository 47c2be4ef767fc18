"""A Cox process (Poisson–Gamma mixture): Poisson arrivals whose rate itself fluctuates.

Real traffic is rarely stationary: load drifts by the minute as users come and go, which a
Poisson or gamma renewal process cannot show. Here the rate is piecewise constant, redrawn
every ``time_scale_s`` from a gamma distribution with mean ``rate_per_s`` and coefficient of
variation ``cv``; given the rate, arrivals are Poisson. Counts in a window of length
w ≤ time_scale_s aligned with the rate's windows are negative-binomial with variance/mean
1 + rate·w·cv² (1 for Poisson); the long-run mean rate is ``rate_per_s``.

The cost is one gamma draw per window plus one exponential per arrival, so a time scale far
below the mean gap (thousands of windows per arrival) is slow as well as pointless.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agentload.traffic.arrivals import _check_rate

__all__ = ["CoxArrivals"]

_BATCH = 4096


@dataclass(frozen=True, slots=True)
class CoxArrivals:
    """Poisson arrivals at a gamma-distributed rate redrawn every ``time_scale_s``.

    ``cv`` = 0 is a plain Poisson process; ``cv`` = 1 makes each window's rate exponential.
    """

    rate_per_s: float
    cv: float
    time_scale_s: float

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise ValueError(f"cv must be a finite number >= 0, got {self.cv!r}")
        if not (math.isfinite(self.time_scale_s) and self.time_scale_s > 0):
            raise ValueError(f"time_scale must be a finite number > 0, got {self.time_scale_s!r}")

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        return self._offsets(rng)

    def _window_masses(self, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Expected arrivals in each of a batch of windows: the rate drawn times the width."""
        mean = self.rate_per_s * self.time_scale_s
        if self.cv == 0:
            return np.full(_BATCH, mean)
        shape = 1.0 / (self.cv * self.cv)
        return rng.gamma(shape, mean / shape, size=_BATCH)

    def _offsets(self, rng: np.random.Generator) -> Iterator[float]:
        # Time rescaling: unit-rate Poisson points u map through the inverse of the
        # integrated rate Λ, which is piecewise linear with a knot at each window boundary.
        # Windows and unit points are drawn in batches as needed, so memory stays bounded
        # whether a window holds a thousandth of an arrival or a million.
        first_window = 0  # absolute index of the window that starts at knots[0]
        knots = np.zeros(1)  # Λ at the boundaries of the current batch of windows
        pending = np.empty(0)  # unit points not yet mapped, sorted
        u = 0.0
        while True:
            if pending.size == 0:
                pending = u + np.cumsum(rng.exponential(1.0, size=_BATCH))
                u = float(pending[-1])
            if pending[0] >= knots[-1]:
                first_window += len(knots) - 1
                knots = knots[-1] + np.concatenate(([0.0], np.cumsum(self._window_masses(rng))))
                continue
            n = int(np.searchsorted(pending, knots[-1], side="left"))
            now, pending = pending[:n], pending[n:]
            k = np.searchsorted(knots, now, side="right") - 1  # knots[k] <= u < knots[k+1]
            frac = np.clip((now - knots[k]) / (knots[k + 1] - knots[k]), 0.0, 1.0)
            # Integer window index plus a fraction in [0, 1]: non-decreasing after rounding,
            # within a window and across window and batch joins alike.
            yield from ((first_window + k + frac) * self.time_scale_s).tolist()
