"""The capacity search as a pure state machine: which value to run next, and what was found.

A driver asks ``next_step()`` for a value, runs a step there, and reports it with
``observe()``; nothing here runs load or reads a clock, so the search is tested with a fake
step runner. Phases:

1. probe: start, then ×2 each step, until a step fails (or saturates) or ``max`` passes.
   The target is never offered more than the first failing value. With an ``estimate`` (a
   first estimate of the capacity, e.g. from an adaptive run) the probe starts there
   instead: a pass steps up ×``spread`` (then ×2 as usual), a fail steps down ÷``spread``
   (then ÷2, down to ``start``), so the first bracket is about the estimate.
2. bisect: between the highest passing value ``lo`` and the lowest failing ``hi``, at their
   geometric mean (the resolution is relative), until ``hi / lo - 1 <= resolution`` (users:
   until they are neighbours).
3. repeat: a step whose verdict is not confident (its confidence interval straddles a limit)
   is run again at the same value; the driver pools the runs at one value, so each repeat
   narrows the interval. After ``repeats`` runs the point estimate (``lean``) decides, and
   the call is marked unconfident. Once resolved, the two boundary values are run once more
   (a saturated failure excepted, so the target is not overloaded twice): one step can be
   unlucky, and a boundary call that does not hold on the pooled runs moves the search on
   (the latest call at a value replaces the earlier one).

The result: ``capacity`` = ``lo``. Its bounds use confident calls only: ``lower`` is the
highest value that passed confidently (0 when none did), ``upper`` the lowest that failed
confidently (None when none did, e.g. ``max`` passed). With a monotone target, the true
capacity lies in [lower, upper] at the confidence level of the calls; unconfident calls at
the boundary widen the bounds instead of pretending.

Saturation: a saturated step fails, confidently, whatever its thresholds say. During the
probe, a step whose completed rate grew by less than a tenth of the offered growth (under
10% for a doubling) is saturation too (``plateau``): more load no longer buys throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["probe", "bisect", "repeat"]
Call = Literal["pass", "fail"]

PLATEAU_GAIN = 0.1  # of the offered growth: a doubling must add at least 10%


@dataclass(frozen=True, slots=True)
class SearchSettings:
    start: float
    max: float
    resolution: float = 0.1
    repeats: int = 3
    integer: bool = False  # users: whole numbers
    factor: float = 2.0  # probe growth
    estimate: float | None = None  # first probe here instead of start (clamped to the range)
    spread: float = 1.25  # from the estimate: the first step up or down

    def __post_init__(self) -> None:
        if not 0 < self.start < self.max:
            raise ValueError("need 0 < start < max")
        if not 0 < self.resolution < 1 or self.repeats < 1 or self.factor <= 1:
            raise ValueError("resolution in (0, 1), repeats >= 1 and factor > 1")
        if self.spread <= 1 or (self.estimate is not None and not self.estimate > 0):
            raise ValueError("spread > 1 and estimate > 0")

    @property
    def first(self) -> float:
        """The first value probed: the estimate within [start, max], else start."""
        if self.estimate is None:
            return self.start
        value = min(max(self.estimate, self.start), self.max)
        return float(round(value)) if self.integer else value


@dataclass(frozen=True, slots=True)
class Planned:
    value: float
    phase: Phase
    run: int  # 1 for the first run at this value, 2 for its first repeat, ...


@dataclass(frozen=True, slots=True)
class Observation:
    """What the search needs of a step (pooled over the runs at its value)."""

    value: float
    verdict: Literal["pass", "fail", "uncertain"]
    lean: Call
    saturated: bool = False
    completed_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    value: float
    call: Call
    confident: bool
    runs: int
    reason: str  # "thresholds", "saturated", "plateau", "lean after N runs"


@dataclass(frozen=True, slots=True)
class SearchResult:
    status: Literal["found", "below_start", "at_max", "stopped"]
    capacity: float | None  # the highest passing value; None when even start failed
    lower: float  # the true capacity is at least this (confident calls only)
    upper: float | None  # ... and below this; None when nothing failed confidently
    first_fail: float | None  # the lowest failing value, confident or not
    decisions: tuple[Decision, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "capacity": self.capacity,
            "lower": self.lower,
            "upper": self.upper,
            "first_fail": self.first_fail,
            "decisions": [
                {
                    "value": d.value,
                    "call": d.call,
                    "confident": d.confident,
                    "runs": d.runs,
                    "reason": d.reason,
                }
                for d in self.decisions
            ],
        }


@dataclass
class CapacitySearch:
    settings: SearchSettings
    decisions: list[Decision] = field(default_factory=list)  # every call, in order
    _calls: dict[float, Decision] = field(default_factory=dict)  # the latest per value
    _runs: dict[float, int] = field(default_factory=dict)
    _rates: dict[float, float | None] = field(default_factory=dict)  # completed per s
    _pending: float | None = None  # a value whose call waits for another run

    @property
    def hi(self) -> float | None:
        """The lowest failing value."""
        return min((v for v, d in self._calls.items() if d.call == "fail"), default=None)

    @property
    def lo(self) -> float | None:
        """The highest passing value below ``hi``."""
        hi = self.hi
        passing = (v for v, d in self._calls.items() if d.call == "pass")
        return max((v for v in passing if hi is None or v < hi), default=None)

    def next_step(self) -> Planned | None:
        """The next value to run, or None when the search is over."""
        if self._pending is not None:
            value = self._pending
            return Planned(value, "repeat", self._runs[value] + 1)
        s = self.settings
        lo, hi = self.lo, self.hi
        if hi is None:  # probing
            if lo is not None and lo >= s.max:
                return self._confirm(lo)
            if lo is None:
                return Planned(s.first, "probe", 1)
            factor = s.spread if s.estimate is not None and lo == s.first else s.factor
            value = self._whole(min(lo * factor, s.max))
            return Planned(max(value, lo + 1) if s.integer else value, "probe", 1)
        if lo is None:
            if hi > s.start:  # the first estimate failed: probe down towards start
                factor = s.spread if hi == s.first else s.factor
                value = self._whole(max(hi / factor, s.start))
                return Planned(max(min(value, hi - 1), s.start) if s.integer else value, "probe", 1)
            return self._confirm(hi)  # even the start failed: once more, to be sure
        if not self._resolved(lo, hi):
            value = self._whole(math.sqrt(lo * hi))
            if s.integer:
                value = min(max(value, lo + 1), hi - 1)
            return Planned(value, "bisect", 1)
        return self._confirm(lo) or self._confirm(hi)

    def _confirm(self, value: float) -> Planned | None:
        """A second run at a boundary value, unless it has one or needs none: the search's
        answer rests on it, and one step can be unlucky (a noisy neighbour, a slow second).
        A saturated failure needs none, so the target is not overloaded twice."""
        if self._runs.get(value, 0) >= 2 or self._calls[value].reason in ("saturated", "plateau"):
            return None
        return Planned(value, "repeat", self._runs[value] + 1)

    def observe(self, obs: Observation) -> Decision | None:
        """Record a step (its stats pooled over every run at its value); returns the call it
        led to, or None while it waits for another run. A later call at a value replaces
        the earlier one, so a boundary that does not hold moves the search on."""
        runs = self._runs[obs.value] = self._runs.get(obs.value, 0) + 1
        self._rates[obs.value] = obs.completed_per_s
        lo = self.lo
        probing = self.hi is None and lo is not None and obs.value > lo
        before = self._rates.get(lo) if lo is not None else None
        plateau = (
            probing
            and lo is not None
            and before is not None
            and obs.completed_per_s is not None
            and obs.completed_per_s < before * (1 + PLATEAU_GAIN * (obs.value / lo - 1))
        )
        if obs.saturated or plateau:
            call: Call = "fail"
            confident, reason = True, "saturated" if obs.saturated else "plateau"
        elif obs.verdict != "uncertain":
            call, confident, reason = obs.verdict, True, "thresholds"
        elif runs < self.settings.repeats:
            self._pending = obs.value
            return None
        else:
            call, confident, reason = obs.lean, False, f"lean after {runs} runs"
        self._pending = None
        decision = Decision(obs.value, call, confident, runs, reason)
        self.decisions.append(decision)
        self._calls[obs.value] = decision
        return decision

    def result(self, *, stopped: bool = False) -> SearchResult:
        lo, hi = self.lo, self.hi
        calls = self._calls.values()
        fails = [d.value for d in calls if d.confident and d.call == "fail"]
        upper = min(fails, default=None)
        passes = [d.value for d in calls if d.confident and d.call == "pass"]
        lower = max((v for v in passes if upper is None or v < upper), default=0.0)
        status: Literal["found", "below_start", "at_max", "stopped"]
        if lo is None:
            status = "stopped" if stopped and hi is None else "below_start"
        elif hi is None:
            status = "at_max" if lo >= self.settings.max else "stopped"
        else:
            status = "stopped" if stopped and not self._resolved(lo, hi) else "found"
        return SearchResult(
            status=status,
            capacity=lo,
            lower=lower,
            upper=upper,
            first_fail=hi,
            decisions=tuple(self.decisions),
        )

    def _resolved(self, lo: float, hi: float) -> bool:
        if self.settings.integer and hi - lo <= 1:
            return True
        return hi / lo - 1 <= self.settings.resolution + 1e-12

    def _whole(self, value: float) -> float:
        return float(round(value)) if self.settings.integer else value


def expected_steps(settings: SearchSettings, *, estimated: bool = False) -> int:
    """Steps a search takes when the capacity is mid-range, with one repeat: to size steps.
    ``estimated``: it starts from a first estimate (two probes bracket it, ×``spread``)."""
    if estimated:
        width = math.log(settings.spread**2)
        return 2 + max(1, math.ceil(math.log2(width / math.log1p(settings.resolution)))) + 2
    probes = math.ceil(math.log(settings.max / settings.start, settings.factor)) + 1
    bisections = max(
        1, math.ceil(math.log2(math.log(settings.factor) / math.log1p(settings.resolution)))
    )
    return math.ceil(probes * 0.6) + bisections + 2
