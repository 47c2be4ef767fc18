"""Segments of a load profile: hold, ramp and sine, plus the ``step`` and ``spike`` shorthands.

Each segment knows its rate r(t), its integral Λ(t) = ∫₀ᵗ r and the inverse of Λ, on local
time from the segment's start, vectorised over numpy arrays. ``RateProfile``
(``agentload.traffic.profiles``) chains them end to end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Hold", "Ramp", "Segment", "Sine", "spike", "step"]

Array = npt.NDArray[np.float64]
_BISECT_STEPS = 64  # 2**-64 of the segment: under a nanosecond even for a years-long one


class Segment(Protocol):
    @property
    def duration_s(self) -> float: ...

    def rate(self, t: Array) -> Array:
        """Rate per second at local times ``t`` in [0, duration_s]."""
        ...

    def integral(self, t: Array) -> Array:
        """Expected arrivals in [0, t): the integral of the rate."""
        ...

    def inverse(self, y: Array) -> Array:
        """Local times at which ``integral`` reaches ``y`` in [0, integral(duration_s)];
        non-decreasing in ``y``."""
        ...


def _check(name: str, value: float, *, positive: bool = False) -> None:
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Hold:
    """A constant rate; rate 0 is a pause."""

    duration_s: float
    rate_per_s: float

    def __post_init__(self) -> None:
        _check("duration", self.duration_s, positive=True)
        _check("rate", self.rate_per_s)

    def rate(self, t: Array) -> Array:
        return np.full_like(t, self.rate_per_s)

    def integral(self, t: Array) -> Array:
        return self.rate_per_s * t

    def inverse(self, y: Array) -> Array:
        # Only asked where the segment has mass, so the rate is > 0 here.
        return np.asarray(y / self.rate_per_s, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A rate moving linearly from ``start_per_s`` to ``end_per_s`` (up or down)."""

    duration_s: float
    start_per_s: float
    end_per_s: float

    def __post_init__(self) -> None:
        _check("duration", self.duration_s, positive=True)
        _check("ramp start rate", self.start_per_s)
        _check("ramp end rate", self.end_per_s)

    @property
    def _slope(self) -> float:
        return (self.end_per_s - self.start_per_s) / self.duration_s

    def rate(self, t: Array) -> Array:
        return self.start_per_s + self._slope * t

    def integral(self, t: Array) -> Array:
        return (self.start_per_s + 0.5 * self._slope * t) * t

    def inverse(self, y: Array) -> Array:
        # Root of s/2·t² + a·t − y in the form 2y / (a + √(a² + 2sy)): no cancellation when
        # the slope is tiny or negative. The discriminant is ≥ end² ≥ 0 up to rounding.
        a, s = self.start_per_s, self._slope
        root = np.sqrt(np.maximum(a * a + 2.0 * s * y, 0.0))
        denom = a + root
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(denom > 0, 2.0 * y / denom, 0.0)
        return np.clip(t, 0.0, self.duration_s)


@dataclass(frozen=True, slots=True)
class Sine:
    """``mean + amplitude·sin(2π(t + phase)/period)``: a diurnal or periodic pattern.

    ``phase_s`` shifts the wave in time: with ``phase_s = period/4`` the rate starts at its
    peak. The amplitude may not exceed the mean: a rate cannot go negative.
    """

    duration_s: float
    mean_per_s: float
    amplitude_per_s: float
    period_s: float
    phase_s: float = 0.0

    def __post_init__(self) -> None:
        _check("duration", self.duration_s, positive=True)
        _check("sine mean rate", self.mean_per_s)
        _check("sine amplitude", self.amplitude_per_s)
        _check("sine period", self.period_s, positive=True)
        if not math.isfinite(self.phase_s):
            raise ValueError(f"sine phase must be a finite number, got {self.phase_s!r}")
        if self.amplitude_per_s > self.mean_per_s:
            raise ValueError(
                f"sine amplitude {self.amplitude_per_s!r} exceeds its mean "
                f"{self.mean_per_s!r}: the rate would go negative"
            )

    def _angle(self, t: Array) -> Array:
        return 2.0 * np.pi * (t + self.phase_s) / self.period_s

    def rate(self, t: Array) -> Array:
        return self.mean_per_s + self.amplitude_per_s * np.sin(self._angle(t))

    def integral(self, t: Array) -> Array:
        k = self.amplitude_per_s * self.period_s / (2.0 * np.pi)
        at_zero = math.cos(2.0 * math.pi * self.phase_s / self.period_s)
        return self.mean_per_s * t + k * (at_zero - np.cos(self._angle(t)))

    def inverse(self, y: Array) -> Array:
        # Λ has no closed-form inverse. Bisection with a fixed number of steps is monotone
        # in y (equal midpoints, equal comparisons), which Newton's method does not promise.
        lo = np.zeros_like(y)
        hi = np.full_like(y, self.duration_s)
        for _ in range(_BISECT_STEPS):
            mid = 0.5 * (lo + hi)
            below = self.integral(mid) < y
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return hi


def step(stages: Iterable[tuple[float, float]]) -> tuple[Hold, ...]:
    """Hold segments from ``(duration_s, rate_per_s)`` stages, in order."""
    segments = tuple(Hold(d, r) for d, r in stages)
    if not segments:
        raise ValueError("a step profile needs at least one (duration, rate) stage")
    return segments


def spike(
    duration_s: float, base_per_s: float, height_per_s: float, at_s: float, width_s: float
) -> tuple[Hold, ...]:
    """``base_per_s`` for ``duration_s``, raised by ``height_per_s`` (above the base) during
    [at_s, at_s + width_s)."""
    _check("spike height", height_per_s)
    _check("spike start", at_s)
    _check("spike width", width_s, positive=True)
    if at_s + width_s > duration_s:
        raise ValueError(
            f"spike [{at_s!r}s, {at_s + width_s!r}s) does not fit in its {duration_s!r}s segment"
        )
    parts = [(at_s, base_per_s), (width_s, base_per_s + height_per_s)]
    parts.append((duration_s - at_s - width_s, base_per_s))
    # Drop empty parts (a spike at 0 or at the very end) rather than reject them.
    return tuple(Hold(d, r) for d, r in parts if d > 0)
