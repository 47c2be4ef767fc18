"""The result of a capacity search, as written to ``capacity.json`` (fields: docs/capacity.md).

Pure: built from the steps' stats and the search's result; the driver writes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentload.analysis.capacity import Planned, SearchResult
from agentload.analysis.capacity_stats import StepStats
from agentload.analysis.knee import find_knee
from agentload.slo.grammar import parse_threshold

SCHEMA_VERSION = 1
UNITS = {"rate": "requests/s", "users": "users", "sessions_rate": "sessions/s"}


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step as run: where, when, and its stats pooled over every run at its value."""

    index: int  # 1-based, in the order run
    planned: Planned
    run_dir: str  # relative to the capacity directory
    started_s: float  # from the start of the search
    wall_s: float
    stats: StepStats


def knee_of(steps: Sequence[StepRecord]) -> dict[str, Any] | None:
    """Knee (Kneedle) of p99 latency over the offered value, one point per value (the last,
    pooled, stats of each): where latency starts to climb faster than load."""
    latest: dict[float, StepStats] = {}
    for step in steps:
        latest[step.planned.value] = step.stats
    points = sorted((v, s.p99_ms) for v, s in latest.items() if s.p99_ms is not None)
    if len(points) < 3:
        return None
    knee = find_knee([p[0] for p in points], [p[1] for p in points], direction="increasing")
    if knee is None:
        return None
    return {"value": knee.x, "p99_ms": knee.y, "score": knee.score, "method": "kneedle"}


def first_threshold_to_break(
    steps: Sequence[StepRecord], first_fail: float | None
) -> dict[str, Any] | None:
    """The threshold that broke at the lowest failing value (or the saturation there)."""
    if first_fail is None:
        return None
    at = [s for s in steps if s.planned.value == first_fail]
    if not at:
        return None
    stats = at[-1].stats
    check = stats.first_failing()
    if check is not None:
        return {
            "value": first_fail,
            "expr": check.expr,
            "observed": check.observed,
            "limit": check.limit,
        }
    if stats.saturation is not None:
        return {"value": first_fail, "expr": None, "saturation": stats.saturation}
    return {"value": first_fail, "expr": None}


# As ``compare``: a percentile with fewer than this many samples beyond it is not resolved.
MIN_TAIL = 5


def thin_percentiles(steps: Sequence[StepRecord], search: SearchResult) -> list[str]:
    """Warnings for the steps that decide the answer (the capacity and the first failure)
    whose percentile thresholds rest on too few samples. The exact bootstrap treats the
    sample as the population, so 8 answers all under the limit "pass" a p99 confidently;
    the search still uses such a verdict, and this says that it is optimistic."""
    deciding = {v for v in (search.capacity, search.first_fail) if v is not None}
    latest: dict[float, StepStats] = {}
    for step in steps:
        if step.planned.value in deciding:
            latest[step.planned.value] = step.stats
    out = []
    for value in sorted(latest):
        for check in latest[value].checks:
            try:
                percentile = parse_threshold(check.expr).percentile
            except ValueError:  # not re-parsable: nothing to say about it
                continue
            if percentile is None or check.observed is None:
                continue
            needed = math.ceil(MIN_TAIL * 100 / (100 - percentile))
            if check.samples < needed:
                out.append(
                    f"{check.expr} at {value:g} rests on {check.samples} samples; a p"
                    f"{percentile:g} needs at least {needed} to be resolved, so its verdict "
                    "is optimistic: lengthen capacity.step_duration or aim at a lower percentile"
                )
    return out


def capacity_document(
    *,
    name: str,
    vary: str,
    settings: Mapping[str, Any],
    steps: Sequence[StepRecord],
    search: SearchResult,
    level: float,
    budget_s: float,
    elapsed_s: float,
    phases_s: Mapping[str, float],
    stop_reason: str | None,
    first_estimate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a report needs, JSON-ready. ``first_estimate``: the adaptive run the
    search started from (``capacity.first_estimate: adaptive``), else None."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "vary": vary,
        "unit": UNITS[vary],
        "settings": dict(settings),
        "confidence_level": level,
        **search.to_dict(),
        "first_threshold_to_break": first_threshold_to_break(steps, search.first_fail),
        "knee": knee_of(steps),
        "budget_s": budget_s,
        "elapsed_s": elapsed_s,
        "phases_s": dict(phases_s),
        "stop_reason": stop_reason,
        "first_estimate": None if first_estimate is None else dict(first_estimate),
        "warnings": thin_percentiles(steps, search),
        "steps": [
            {
                "index": s.index,
                "value": s.planned.value,
                "phase": s.planned.phase,
                "run": s.planned.run,
                "run_dir": s.run_dir,
                "started_s": s.started_s,
                "wall_s": s.wall_s,
                **s.stats.to_dict(level),
            }
            for s in steps
        ],
    }
