"""Adaptive pacing: change the number of active users to hold a latency target.

``load: {model: adaptive, target: "p95(latency) < 1s", min_users, max_users, duration}``
runs ``max_users`` closed-model users of which only the first ``limit`` send; the others
wait, parked by the engine (``Engine.user_limit``). Every ``interval`` an AIMD controller,
as in adaptive concurrency limiters (TCP congestion control, Netflix's concurrency-limits):

- measures the target statistic over the requests *started since the last change* (so a
  decision never judges the new limit on the old one's answers), once enough of them finished
  for the percentile to mean something (``min_samples``: 20 for p95, 100 for p99);
- over the limit: multiplicative decrease, ``limit × 0.75`` (at least ``min_users``);
- under 80% of the limit: increase; doubling (slow start) until the first decrease, then by
  max(1, 10%) (additive phase);
- in between: hold.

The trajectory (time, limit, observed value, samples, action) goes to ``adaptive.jsonl`` in
the run directory as it happens, and a summary to ``adaptive.json`` at the end: the limit
it settled on (median over the second half of the run) and the highest limit that met the
target, which is an estimate of the concurrency capacity.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from agentload.clock import NS_PER_S, Clock
from agentload.config.models import AdaptiveLoad, Scenario
from agentload.engine.core import ClosedPlan, Engine
from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import RequestRecord
from agentload.slo.aggregate import metric_values
from agentload.slo.evaluate import min_samples
from agentload.slo.grammar import Threshold, parse_threshold

TRAJECTORY_FILE = "adaptive.jsonl"
SUMMARY_FILE = "adaptive.json"
DECREASE = 0.75
HEADROOM = 0.8
ADDITIVE = 0.1
_TICK_S = 0.1

Action = Literal["start", "increase", "decrease", "hold"]


@dataclass
class AimdController:
    """Pure: the next limit from an observation of the target statistic."""

    target_ms: float
    min_limit: int
    max_limit: int
    limit: int
    slow_start: bool = True

    def decide(self, observed_ms: float) -> Action:
        if observed_ms >= self.target_ms:
            self.slow_start = False
            new = max(self.min_limit, math.floor(self.limit * DECREASE))
            action: Action = "decrease" if new < self.limit else "hold"
        elif observed_ms < HEADROOM * self.target_ms:
            step = self.limit if self.slow_start else max(1, round(self.limit * ADDITIVE))
            new = min(self.max_limit, self.limit + step)
            action = "increase" if new > self.limit else "hold"
        else:
            new, action = self.limit, "hold"
        self.limit = new
        return action


class TargetWindow:
    """The target statistic over records due since ``since_ns`` (a record sink)."""

    def __init__(self, threshold: Threshold) -> None:
        self.threshold = threshold
        self.since_ns = 0
        self.histogram = LatencyHistogram()
        percentile = threshold.percentile
        self.needed = max(5, min_samples(percentile) if percentile is not None else 5)

    def add(self, record: RequestRecord) -> None:
        if record.intended_at < self.since_ns:
            return
        for value in metric_values(self.threshold.metric, record):
            self.histogram.record_ms(value)

    @property
    def samples(self) -> int:
        return self.histogram.count

    def value_ms(self) -> float | None:
        if self.threshold.aggregate == "avg":
            return self.histogram.mean_ms
        percentile = self.threshold.percentile
        return None if percentile is None else self.histogram.percentile_ms(percentile)

    def reset(self, now_ns: int) -> None:
        self.since_ns = now_ns
        self.histogram = LatencyHistogram()


class AdaptivePacer:
    """Record sink and driver of one adaptive run."""

    def __init__(self, load: AdaptiveLoad) -> None:
        self.load = load
        threshold = parse_threshold(load.target)
        start = load.start_users if load.start_users is not None else load.min_users
        self.controller = AimdController(threshold.limit, load.min_users, load.max_users, start)
        self.window = TargetWindow(threshold)
        self.trajectory: list[dict[str, Any]] = []
        self._out: IO[str] | None = None

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> list[AdaptivePacer]:
        load = scenario.load
        return [cls(load)] if isinstance(load, AdaptiveLoad) else []

    def add(self, record: RequestRecord) -> None:
        self.window.add(record)

    async def drive(self, engine: Engine, clock: Clock, run_dir: Path) -> None:
        """Adjust ``engine.user_limit`` until cancelled."""
        self._out = (run_dir / TRAJECTORY_FILE).open("w", encoding="utf-8")
        engine.user_limit = self.controller.limit
        self._log(clock.now_ns(), None, "start", engine)
        interval_ns = int(self.load.interval * NS_PER_S)
        try:
            while True:
                await asyncio.sleep(_TICK_S)
                now = clock.now_ns()
                waited = now - self.window.since_ns
                enough = self.window.samples >= self.window.needed
                stale = waited >= 5 * interval_ns and self.window.samples >= 5
                observed = self.window.value_ms()
                if waited < interval_ns or not (enough or stale) or observed is None:
                    continue
                action = self.controller.decide(observed)
                engine.user_limit = self.controller.limit
                self._log(now, observed, action, engine)
                self.window.reset(now)
        finally:
            self._out.close()

    def _log(self, now_ns: int, observed_ms: float | None, action: Action, engine: Engine) -> None:
        entry = {
            "t_s": round(now_ns / NS_PER_S, 3),
            "limit": self.controller.limit,
            "observed_ms": observed_ms,
            "samples": self.window.samples,
            "action": action,
            "in_flight": engine.in_flight,
        }
        self.trajectory.append(entry)
        if self._out is not None:
            self._out.write(json.dumps(entry) + "\n")
            self._out.flush()

    def summary(self) -> dict[str, Any]:
        return summarize_trajectory(self.load.target, self.controller.target_ms, self.trajectory)

    def write_summary(self, run_dir: Path) -> None:
        (run_dir / SUMMARY_FILE).write_text(json.dumps(self.summary(), indent=2) + "\n")


def summarize_trajectory(
    target: str, target_ms: float, trajectory: list[dict[str, Any]]
) -> dict[str, Any]:
    """Where the controller settled, and the highest limit seen meeting the target."""
    judged = [e for e in trajectory if e["observed_ms"] is not None]
    end_s = trajectory[-1]["t_s"] if trajectory else 0.0
    late = [e["limit"] for e in trajectory if e["t_s"] >= end_s / 2] or [0]
    # The limit an observation judged is the one logged just before it.
    met = [
        before["limit"]
        for before, after in itertools.pairwise(trajectory)
        if after["observed_ms"] is not None and after["observed_ms"] < target_ms
    ]
    return {
        "target": target,
        "decisions": len(judged),
        "increases": sum(e["action"] == "increase" for e in judged),
        "decreases": sum(e["action"] == "decrease" for e in judged),
        "final_limit": trajectory[-1]["limit"] if trajectory else None,
        "settled_limit": statistics.median(late),
        "best_meeting_target": max(met, default=None),
    }


def adaptive_plan(load: AdaptiveLoad, seed: int) -> ClosedPlan:
    """All ``max_users`` users exist; the pacer lets the first ``limit`` of them send."""
    return ClosedPlan(
        users=load.max_users,
        think_min_s=load.think_time.min,
        think_max_s=load.think_time.max,
        duration_s=load.duration,
        max_requests=None,
        seed=seed,
    )
