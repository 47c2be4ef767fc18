"""Goodput (DistServe-style): requests per second that met every per-request objective.

A request is *good* when its outcome is ok and it meets each objective that applies to it.
Objectives come from the scenario's thresholds: every threshold that bounds a per-request
duration metric from above — ``AGG(M{filters}) < L`` or ``<= L`` with M in latency,
service, ttft, ttfb, tpot, itl — becomes the objective "this request's M is under L" for
the requests its filters select (action, turn, persona). The threshold's percentile is a statement
about the population (at most 1% of requests may exceed L for a p99), so per request it
maps to the limit alone: a good request is one that would not count against the threshold.
For itl, a request has many values (one per gap); its value is the threshold's own aggregate
over its gaps (pN nearest-rank, avg, max). Thresholds on min(...), with > or >=, on
schedule_lag (the generator, not the service), and ratios, rates and counts are not
per-request objectives. With no objectives, every ok request is good.

``per_s`` = good / duration_s (the summary's duration), overall and per action.
Session goodput: a session (records sharing a ``session_id``) is good when every one of its
requests was good; ``sessions.per_s`` = good sessions / duration_s (None without sessions).
A session cut off by the end of the run counts with the turns it had.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentload.records.record import Outcome, RequestRecord
from agentload.slo.aggregate import UNAVAILABLE_KEYS, metric_values
from agentload.slo.grammar import Threshold

PER_REQUEST_METRICS = ("latency", "service", "ttft", "ttfb", "tpot", "itl")


def objectives(thresholds: Iterable[Threshold]) -> list[Threshold]:
    """The thresholds that act as per-request objectives (rules in the module docstring)."""
    return [
        t
        for t in thresholds
        if t.metric in PER_REQUEST_METRICS
        and t.op in ("<", "<=")
        and t.aggregate != "min"
        and not any(k in UNAVAILABLE_KEYS for k, _ in t.filters)
    ]


def request_value(objective: Threshold, record: RequestRecord) -> float | None:
    values = metric_values(objective.metric, record)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    if objective.aggregate == "avg":
        return math.fsum(values) / len(values)
    if objective.aggregate == "max":
        return max(values)
    ordered = sorted(values)  # nearest rank, as LatencyHistogram (exact here)
    rank = max(1, math.ceil(float(objective.aggregate[1:]) / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def is_good(record: RequestRecord, objectives: Iterable[Threshold]) -> bool:
    if record.outcome != Outcome.OK:
        return False
    for objective in objectives:
        if not _selects(objective, record):
            continue
        value = request_value(objective, record)
        # A missing value (no first token for a ttft objective) cannot show it was met.
        if value is None or not objective.passes(value):
            return False
    return True


def _selects(objective: Threshold, record: RequestRecord) -> bool:
    for key, value in objective.filters:
        if key == "action" and record.action != value:
            return False
        if key == "turn" and record.turn != int(value):
            return False
        if key == "persona" and record.persona != value:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Goodput:
    objectives: tuple[str, ...]
    good: int
    per_s: float | None
    per_action: Mapping[str, tuple[int, float | None]]  # action -> (good, per second)
    sessions: int = 0  # sessions seen (records with a session_id)
    sessions_good: int = 0
    sessions_per_s: float | None = None  # good sessions per second

    def to_dict(self) -> dict[str, Any]:
        return {
            "objectives": list(self.objectives),
            "good": self.good,
            "per_s": self.per_s,
            "per_action": {
                name: {"good": good, "per_s": per_s}
                for name, (good, per_s) in sorted(self.per_action.items())
            },
            "sessions": None
            if not self.sessions
            else {"count": self.sessions, "good": self.sessions_good, "per_s": self.sessions_per_s},
        }


class GoodputCounter:
    """A record sink that counts good requests, overall and per action."""

    def __init__(self, thresholds: Iterable[Threshold]) -> None:
        self.objectives = objectives(thresholds)
        self.good = 0
        self.by_action: Counter[str] = Counter()
        self.session_good: dict[str, bool] = {}  # session id -> every request so far good

    def add(self, record: RequestRecord) -> None:
        good = is_good(record, self.objectives)
        if good:
            self.good += 1
            self.by_action[record.action] += 1
        if record.session_id is not None:
            self.session_good[record.session_id] = good and self.session_good.get(
                record.session_id, True
            )

    def result(self, duration_s: float | None, actions: Iterable[str] = ()) -> Goodput:
        """``actions``: every action the run had, so one with no good request shows 0."""

        def rate(count: int) -> float | None:
            return count / duration_s if duration_s else None

        names = set(actions) | set(self.by_action)
        return Goodput(
            objectives=tuple(str(o) for o in self.objectives),
            good=self.good,
            per_s=rate(self.good),
            per_action={n: (self.by_action[n], rate(self.by_action[n])) for n in names},
            sessions=len(self.session_good),
            sessions_good=sum(self.session_good.values()),
            sessions_per_s=rate(sum(self.session_good.values())) if self.session_good else None,
        )
