"""``capacity.first_estimate: adaptive``: one short adaptive run before the capacity search.

The run (``load.model: adaptive``, ``engine.adaptive``) holds the scenario's first latency
threshold (a percentile or average below a limit, without filters) with an AIMD controller;
``analysis.capacity_estimate`` reads where it settled, and the search starts its bracket
there instead of probing up from ``start`` (``SearchSettings.estimate``).

- ``vary: users``: the adaptive run uses the scenario's think time, from ``start`` users up to
  ``max``; the estimate is the number of users it settled on.
- ``vary: rate``: closed users with no think time, at most as many as ``max`` needs at the
  threshold's latency (Little's law: users = rate × latency); the estimate is the ok rate
  it completed once settled.

Its length (``estimate_duration``) defaults to enough controller intervals for slow start to
reach ``max`` and then settle: interval × (log2(max / start) + 10), an interval being a
quarter of a step's measurement (0.25 s to 2 s). It is written to ``steps/00-adaptive`` and
reported in capacity.json's ``first_estimate``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from agentload import api
from agentload.analysis.capacity_estimate import settled_users, with_rate
from agentload.config.capacity import CapacityConfig, check_adaptive_target
from agentload.config.models import AdaptiveLoad, Scenario, ThinkTime
from agentload.config.thresholds import ThresholdSpec
from agentload.engine.adaptive import TRAJECTORY_FILE
from agentload.errors import UsageError
from agentload.records.record import Outcome
from agentload.records.rundir import RunDir
from agentload.slo.grammar import parse_threshold

ESTIMATE_DIR = "00-adaptive"
_SETTLE_INTERVALS = 10
_MAX_USERS = 10_000


def adaptive_target(specs: tuple[ThresholdSpec, ...] | list[ThresholdSpec]) -> str:
    """The first threshold an adaptive run can hold; UsageError when there is none."""
    for spec in specs:
        if spec.parsed().filters:
            continue  # the controller watches every request, not a filtered subset
        try:
            return check_adaptive_target(spec.expr)
        except ValueError:
            continue
    raise UsageError(
        "capacity.first_estimate: adaptive needs a latency threshold to hold, without "
        "filters, e.g. 'p95(latency) < 1s'; add one or drop first_estimate"
    )


def adaptive_load(
    scenario: Scenario, config: CapacityConfig, target: str, measure_s: float, grace_s: float
) -> AdaptiveLoad:
    """The adaptive load of the estimating run (see the module docstring)."""
    interval = min(2.0, max(0.25, measure_s / 4))
    if config.vary == "users":
        low, high = int(config.start), int(config.max)
        think = getattr(scenario.load, "think_time", ThinkTime())
    else:
        limit_s = _limit_ms(target) / 1000
        low, high = 1, min(_MAX_USERS, max(2, math.ceil(config.max * limit_s) + 1))
        think = ThinkTime()
    duration = config.estimate_duration
    if duration is None:
        duration = max(3.0, interval * (math.ceil(math.log2(high / low)) + _SETTLE_INTERVALS))
    return AdaptiveLoad(
        model="adaptive",
        target=target,
        min_users=low,
        max_users=high,
        start_users=low,
        interval=interval,
        think_time=think,
        duration=duration,
        grace=grace_s,
    )


def planned_wall_s(load: AdaptiveLoad) -> float:
    return load.duration + (load.grace or 0.0) + 0.5


def run_first_estimate(
    scenario: Scenario, config: CapacityConfig, load: AdaptiveLoad, base: Path
) -> dict[str, Any]:
    """Run the adaptive step into ``base/steps/00-adaptive``; the ``first_estimate`` block of
    capacity.json (``value`` None when the controller never decided: the search then
    starts from ``start``)."""
    run_dir = base / "steps" / ESTIMATE_DIR
    seed = int(np.random.SeedSequence([scenario.seed, 0]).generate_state(1)[0])
    step = scenario.model_copy(update={"load": load, "capacity": None, "seed": seed})
    started = time.monotonic()
    result = api.run(step, out_dir=run_dir, handle_signals=True)
    wall_s = time.monotonic() - started
    trajectory = _trajectory(run_dir / TRAJECTORY_FILE)
    estimate = settled_users(trajectory)
    if estimate is not None and config.vary == "rate":
        done = (r.done_at for r in RunDir.open(run_dir).iter_records() if r.outcome == Outcome.OK)
        estimate = with_rate(estimate, done, end_s=load.duration)
    value: float | None = None
    note = "the controller never decided (too few answers): the search starts at start"
    if estimate is not None:
        value = estimate.users if config.vary == "users" else estimate.rate_per_s
        note = (
            "where the controller settled"
            if estimate.basis == "settled"
            else "the controller was still rising: a lower estimate"
        )
        if value is None:
            note = "no ok answers once settled: the search starts at start"
    return {
        "method": "adaptive",
        "target": load.target,
        "value": value,
        "note": note,
        "run_dir": str(run_dir.relative_to(base)),
        "status": result.status,
        "wall_s": wall_s,
        "duration_s": load.duration,
        "interval_s": load.interval,
        "users_range": [load.min_users, load.max_users],
        **({} if estimate is None else {"adaptive": estimate.to_dict()}),
    }


def _limit_ms(target: str) -> float:
    return parse_threshold(target).limit


def _trajectory(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut off by an interruption
        if isinstance(entry, dict) and {"t_s", "limit", "action"} <= entry.keys():
            entries.append(entry)
    return entries
