"""Load profiles: a time-varying rate, and arrivals that follow it.

``ProfileArrivals`` draws a unit-rate process (Poisson, gamma or evenly spaced) and maps each
point u to Λ⁻¹(u), where Λ(t) is the integrated rate of a ``RateProfile``: the time-rescaling
theorem makes the result an inhomogeneous process with rate r(t), so the expected count by
time t is Λ(t) (and exactly ⌈Λ(t)⌉ with constant spacing). The schedule ends with the profile.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np

from agentload.traffic.segments import Array, Segment

__all__ = ["SPACINGS", "ProfileArrivals", "RateProfile"]

SPACINGS = ("poisson", "gamma", "constant")

_BATCH = 4096


class RateProfile:
    """Segments end to end from t = 0; the profile, and its arrivals, end at ``duration_s``."""

    __slots__ = ("_masses", "_positive", "_starts", "duration_s", "segments", "total")

    def __init__(self, segments: Sequence[Segment]) -> None:
        if not segments:
            raise ValueError("a load profile needs at least one segment")
        self.segments: tuple[Segment, ...] = tuple(segments)
        durations = [s.duration_s for s in self.segments]
        masses = [float(s.integral(np.array([s.duration_s]))[0]) for s in self.segments]
        self._starts = np.concatenate(([0.0], np.cumsum(durations)))
        self._masses = np.concatenate(([0.0], np.cumsum(masses)))
        # Segments that hold arrivals; a pause (rate 0) is skipped by the inverse, so no
        # arrival ever lands inside it.
        self._positive = np.flatnonzero(np.diff(self._masses) > 0)
        self.duration_s = float(self._starts[-1])
        self.total = float(self._masses[-1])  # expected arrivals over the whole profile
        if not self.total > 0:
            raise ValueError("a load profile needs a rate above 0 somewhere")

    def __repr__(self) -> str:
        return f"RateProfile({list(self.segments)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateProfile) and self.segments == other.segments

    def __hash__(self) -> int:
        return hash(self.segments)

    @overload
    def rate(self, t_s: float) -> float: ...
    @overload
    def rate(self, t_s: Array) -> Array: ...
    def rate(self, t_s: float | Array) -> float | Array:
        """Rate per second at ``t_s``; 0 outside [0, duration_s)."""
        return self._piecewise(t_s, lambda seg, local: seg.rate(local), cumulative=False)

    @overload
    def integral(self, t_s: float) -> float: ...
    @overload
    def integral(self, t_s: Array) -> Array: ...
    def integral(self, t_s: float | Array) -> float | Array:
        """Λ(t): expected arrivals in [0, t_s); 0 before the profile, ``total`` after it."""
        return self._piecewise(t_s, lambda seg, local: seg.integral(local), cumulative=True)

    def inverse(self, y: Array) -> Array:
        """Λ⁻¹: for each ``y`` in [0, total), a time t with Λ(t) = y, non-decreasing in ``y``
        and below ``duration_s``. A ``y`` at the start of a pause maps to its end."""
        starts = self._masses[self._positive]
        which = np.searchsorted(starts, y, side="right") - 1
        out = np.empty_like(y)
        for j in np.unique(which):
            i = self._positive[j]
            sel = which == j
            seg = self.segments[i]
            local = np.clip(seg.inverse(y[sel] - self._masses[i]), 0.0, seg.duration_s)
            out[sel] = self._starts[i] + local
        # Rounding at segment joins could step back by an ulp; the last clamp keeps
        # arrivals strictly inside the profile, as a duration bound in schedule_ns expects.
        np.maximum.accumulate(out, out=out)
        return np.minimum(out, math.nextafter(self.duration_s, 0.0))

    def _piecewise(self, t_s: float | Array, fn: _SegmentFn, *, cumulative: bool) -> float | Array:
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        out = np.empty_like(t)
        last = len(self.segments) - 1
        idx = np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, last)
        for i in np.unique(idx):
            sel = idx == i
            seg = self.segments[i]
            local = np.clip(t[sel] - self._starts[i], 0.0, seg.duration_s)
            out[sel] = (self._masses[i] if cumulative else 0.0) + fn(seg, local)
        if not cumulative:
            out[(t < 0) | (t >= self.duration_s)] = 0.0
        return float(out[0]) if np.ndim(t_s) == 0 else out


class _SegmentFn(Protocol):
    def __call__(self, seg: Segment, local: Array, /) -> Array: ...


@dataclass(frozen=True, slots=True)
class ProfileArrivals:
    """Arrivals following ``profile``'s rate, spaced as ``spacing`` in rescaled time.

    "poisson": an inhomogeneous Poisson process. "gamma": gamma gaps of shape
    ``burstiness`` in rescaled time (clumpier below 1, smoother above). "constant": the
    deterministic version, the first arrival where the rate first rises above 0.
    """

    profile: RateProfile
    spacing: str = "poisson"
    burstiness: float = 1.0

    def __post_init__(self) -> None:
        if self.spacing not in SPACINGS:
            raise ValueError(
                f"unknown spacing {self.spacing!r}; expected one of {', '.join(SPACINGS)}"
            )
        if not (math.isfinite(self.burstiness) and self.burstiness > 0):
            raise ValueError(f"burstiness must be a finite number > 0, got {self.burstiness!r}")
        if self.spacing != "gamma" and self.burstiness != 1.0:
            raise ValueError(f"burstiness applies only to spacing 'gamma', not {self.spacing!r}")

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        return self._offsets(rng)

    def _offsets(self, rng: np.random.Generator) -> Iterator[float]:
        total = self.profile.total
        last = 0.0
        for units in self._unit_batches(rng):
            end = int(np.searchsorted(units, total, side="left"))  # first u >= total
            if end:
                # Each batch is monotone; the max also keeps it so across batch joins.
                times = np.maximum(self.profile.inverse(units[:end]), last)
                last = float(times[-1])
                yield from times.tolist()
            if end < len(units):
                return

    def _unit_batches(self, rng: np.random.Generator) -> Iterator[Array]:
        """Arrival times of the unit-rate process, a sorted batch at a time."""
        if self.spacing == "constant":
            # Integers are exact in float64 far beyond any schedule length.
            for first in range(0, 2**53, _BATCH):
                yield np.arange(first, first + _BATCH, dtype=np.float64)
            return
        u = 0.0
        shape = self.burstiness
        while True:
            if self.spacing == "gamma":
                gaps = rng.gamma(shape, 1.0 / shape, size=_BATCH)
            else:
                gaps = rng.exponential(1.0, size=_BATCH)
            batch = u + np.cumsum(gaps)
            u = float(batch[-1])
            yield batch
