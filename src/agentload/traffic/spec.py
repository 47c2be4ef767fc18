"""Build any arrival process from plain values: the one place a scenario maps to traffic.

A spec is a mapping with a ``kind`` and that kind's keys, as a scenario file would write them
(see ``ARRIVAL_SPEC_KINDS`` and the table below). Rates and durations may be numbers (per
second, seconds) or strings such as "20/s" and "5m"; errors name the offending key by its
path, e.g. ``segments[1].to``.

    constant, poisson   rate
    gamma               rate, burstiness?
    cox                 rate, cv, time_scale
    profile             segments (a list of segment specs), spacing?, burstiness?
    hold | ramp | step | spike | sine
                        one segment as a whole profile: its keys, spacing?, burstiness?
    trace               path, time_field?, unit?, speed?, fields?, format?, sort?

Segments: hold (duration, rate), ramp (duration, from, to), step (stages: a list of
{duration, rate}), spike (duration, base, height, at, width), sine (duration, mean,
amplitude, period, phase?). A key marked ? has a default. A relative trace path is taken
from the working directory: the config layer resolves it against the scenario file first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from agentload.traffic.arrivals import (
    ArrivalProcess,
    ConstantArrivals,
    GammaArrivals,
    PoissonArrivals,
)
from agentload.traffic.cox import CoxArrivals
from agentload.traffic.profiles import ProfileArrivals, RateProfile
from agentload.traffic.segments import Hold, Ramp, Segment, Sine, spike, step
from agentload.traffic.trace import TraceReplay
from agentload.units import parse_duration_s, parse_rate_per_s

__all__ = ["ARRIVAL_SPEC_KINDS", "SEGMENT_KINDS", "arrivals_from_spec"]

Spec = Mapping[str, object]
T = TypeVar("T")

SEGMENT_KINDS = ("hold", "ramp", "step", "spike", "sine")
ARRIVAL_SPEC_KINDS = ("constant", "poisson", "gamma", "cox", "profile", *SEGMENT_KINDS, "trace")


def arrivals_from_spec(spec: Spec) -> ArrivalProcess:
    """The arrival process a spec describes; ``ValueError`` naming the key if it is wrong."""
    s = _Reader(spec, "")
    kind = s.text("kind")
    if kind == "constant":
        return ConstantArrivals(s.done(s.rate("rate")))
    if kind == "poisson":
        return PoissonArrivals(s.done(s.rate("rate")))
    if kind == "gamma":
        return s.done(GammaArrivals(s.rate("rate"), s.number("burstiness", 1.0)))
    if kind == "cox":
        return s.done(CoxArrivals(s.rate("rate"), s.number("cv"), s.duration("time_scale")))
    if kind == "profile":
        segments = [
            seg
            for i, item in enumerate(s.items("segments"))
            for seg in _segments(_Reader(_mapping(item, f"segments[{i}]"), f"segments[{i}]."))
        ]
        return _profile(s, segments)
    if kind in SEGMENT_KINDS:
        return _profile(s, _segments(s, final=False))
    if kind == "trace":
        return s.done(
            TraceReplay.load(
                Path(s.text("path")),
                time_field=s.text("time_field", "timestamp"),
                unit=s.text("unit", "s"),
                speed=s.number("speed", 1.0),
                fields=[_text(f, "fields") for f in s.items("fields", ())],
                format=s.optional_text("format"),
                sort=s.flag("sort", True),
            )
        )
    choices = ", ".join(ARRIVAL_SPEC_KINDS)
    raise ValueError(f"kind: unknown arrival kind {kind!r}; expected one of {choices}")


def _profile(s: _Reader, segments: Sequence[Segment]) -> ProfileArrivals:
    profile = RateProfile(segments)
    return s.done(
        ProfileArrivals(profile, s.text("spacing", "poisson"), s.number("burstiness", 1.0))
    )


def _segments(s: _Reader, *, final: bool = True) -> tuple[Segment, ...]:
    """The segments one segment spec stands for; ``final=False`` leaves keys unchecked for
    the caller (a top-level segment also takes spacing and burstiness)."""
    try:
        made = _make_segments(s)
    except _KeyProblem:
        raise
    except ValueError as exc:  # a constraint between keys, e.g. amplitude above the mean
        raise ValueError(f"{s.where.rstrip('.') or s.spec['kind']}: {exc}") from None
    return s.done(made) if final else made


def _make_segments(s: _Reader) -> tuple[Segment, ...]:
    kind = s.text("kind")
    made: tuple[Segment, ...]
    if kind == "hold":
        made = (Hold(s.duration("duration"), s.rate("rate")),)
    elif kind == "ramp":
        made = (Ramp(s.duration("duration"), s.rate("from"), s.rate("to")),)
    elif kind == "sine":
        d, mean, amp = s.duration("duration"), s.rate("mean"), s.rate("amplitude")
        made = (Sine(d, mean, amp, s.duration("period"), s.duration("phase", 0.0)),)
    elif kind == "spike":
        d, base, height = s.duration("duration"), s.rate("base"), s.rate("height")
        made = spike(d, base, height, s.duration("at"), s.duration("width"))
    elif kind == "step":
        stages = []
        for i, item in enumerate(s.items("stages")):
            stage = _Reader(_mapping(item, f"{s.where}stages[{i}]"), f"{s.where}stages[{i}].")
            stages.append(stage.done((stage.duration("duration"), stage.rate("rate"))))
        made = step(stages)
    else:
        raise _KeyProblem(
            f"{s.where}kind: unknown segment kind {kind!r}; expected one of "
            + ", ".join(SEGMENT_KINDS)
        )
    return made


class _KeyProblem(ValueError):
    """An error already prefixed with the key's path."""


class _Reader:
    """Reads keys off one mapping, prefixing errors with its path; ``done`` then rejects any
    key it did not read, so a misspelt key fails instead of silently taking a default."""

    _MISSING = object()

    def __init__(self, spec: Spec, where: str) -> None:
        self.spec, self.where, self.seen = spec, where, {"kind"}

    def _get(self, key: str, default: object) -> object:
        self.seen.add(key)
        value = self.spec.get(key, default)
        if value is self._MISSING:
            raise _KeyProblem(f"{self.where}{key}: required")
        return value

    def _parse(self, key: str, default: object, parse: Callable[[object], float]) -> float:
        value = self._get(key, default)
        try:
            return parse(value)
        except (TypeError, ValueError) as exc:
            raise _KeyProblem(f"{self.where}{key}: {exc}") from None

    def rate(self, key: str, default: object = _MISSING) -> float:
        return self._parse(key, default, lambda v: parse_rate_per_s(_scalar(v)))

    def duration(self, key: str, default: object = _MISSING) -> float:
        return self._parse(key, default, lambda v: parse_duration_s(_scalar(v)))

    def number(self, key: str, default: object = _MISSING) -> float:
        return self._parse(key, default, _number)

    def text(self, key: str, default: object = _MISSING) -> str:
        return _text(self._get(key, default), self.where + key)

    def optional_text(self, key: str) -> str | None:
        value = self._get(key, None)
        return None if value is None else _text(value, self.where + key)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise _KeyProblem(f"{self.where}{key}: expected true or false, got {value!r}")
        return value

    def items(self, key: str, default: object = _MISSING) -> Sequence[object]:
        value = self._get(key, default)
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise _KeyProblem(f"{self.where}{key}: expected a list, got {value!r}")
        return value

    def done(self, value: T) -> T:
        extra = sorted(set(self.spec) - self.seen)
        if extra:
            raise _KeyProblem(f"{self.where}{extra[0]}: not a key of kind {self.spec['kind']!r}")
        return value


def _scalar(value: object) -> str | float | int:
    if isinstance(value, str | int | float):
        return value
    raise TypeError(f"expected a number or a string, got {value!r}")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _KeyProblem(f"{where}: expected a string, got {value!r}")
    return value


def _mapping(value: object, where: str) -> Spec:
    if not isinstance(value, Mapping):
        raise _KeyProblem(f"{where}: expected a mapping with a kind, got {value!r}")
    return value


def natural_bounds(process: ArrivalProcess) -> tuple[float | None, int | None]:
    """Where a process ends by itself: a profile after its duration, a trace after its last
    row; ``(None, None)`` for the endless ones, which need a duration or a request count."""
    if isinstance(process, ProfileArrivals):
        return process.profile.duration_s, None
    if isinstance(process, TraceReplay):
        return None, len(process)
    return None, None
