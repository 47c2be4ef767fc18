"""``agentload capacity``: drive the pure search (analysis.capacity) with real steps.

Each step is an ordinary run (``api.run``) of the scenario with the varied field set to the
step's value and the duration set to warm-up + measurement, written to
``<capacity dir>/steps/NN-<value>/``; its records are judged by analysis.capacity_stats over
the measurement window only (intended start after the warm-up). Runs at the same value are
pooled. ``capacity.json`` is rewritten after every step, so an interrupted search leaves what
it found; ``capacity.md`` is written at the end.

Budget: the search stops before a step that would not fit in what is left. Without an
explicit ``step_duration``, steps are sized from the budget and the expected step count.
In-flight requests get a grace of a quarter step at the end of a step (at most the
scenario's own grace), so an overloaded step never overloads the target much longer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from agentload import api
from agentload.analysis.capacity import (
    CapacitySearch,
    Decision,
    Observation,
    Planned,
    SearchSettings,
    expected_steps,
)
from agentload.analysis.capacity_result import StepRecord, capacity_document
from agentload.analysis.capacity_stats import StepStats, step_stats
from agentload.capacity_estimate import (
    adaptive_load,
    adaptive_target,
    planned_wall_s,
    run_first_estimate,
)
from agentload.clock import NS_PER_S
from agentload.config.capacity import LOAD_MODEL_OF, CapacityConfig
from agentload.config.models import Scenario
from agentload.config.thresholds import all_thresholds
from agentload.errors import UsageError
from agentload.records.rundir import RunDir, write_json_atomic
from agentload.report.capacity import write_capacity_markdown
from agentload.report.html_capacity import write_capacity_html
from agentload.slo.grammar import Threshold

CAPACITY_FILE = "capacity.json"
_MIN_STEP_S, _MAX_STEP_S = 2.0, 60.0
_START_OVERHEAD_S = 0.5  # start-up and summary of one step, beyond its load


@dataclass(frozen=True, slots=True)
class StepTiming:
    warmup_s: float
    measure_s: float
    grace_s: float

    @property
    def expected_wall_s(self) -> float:
        return self.warmup_s + self.measure_s + self.grace_s + _START_OVERHEAD_S


@dataclass(frozen=True)
class CapacityOutcome:
    path: Path
    document: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.document["status"])


OnStep = Callable[[StepRecord, Decision | None], None]


def capacity_config(scenario: Scenario) -> CapacityConfig:
    """The scenario's capacity section, or the defaults for its load model."""
    if scenario.capacity is not None:
        return scenario.capacity
    vary = {model: vary for vary, model in LOAD_MODEL_OF.items()}[scenario.load.model]
    config = CapacityConfig(vary=vary)
    if vary == "users":
        config = config.model_copy(update={"max": 256.0})
    return config


def step_timing(
    config: CapacityConfig, settings: SearchSettings, budget_s: float, *, estimated: bool = False
) -> StepTiming:
    measure = config.step_duration
    if measure is None:
        per_step_s = budget_s / expected_steps(settings, estimated=estimated)
        # wall ≈ warm-up (0.2) + measure (1) + grace (0.25) + overhead
        measure = min(_MAX_STEP_S, max(_MIN_STEP_S, (per_step_s - _START_OVERHEAD_S) / 1.45))
    warmup = config.warmup if config.warmup is not None else max(0.5, 0.2 * measure)
    return StepTiming(warmup_s=warmup, measure_s=measure, grace_s=max(1.0, 0.25 * measure))


def run_capacity(
    scenario: Scenario,
    *,
    out_dir: Path | None = None,
    budget_s: float | None = None,
    on_step: OnStep | None = None,
) -> CapacityOutcome:
    """Search the scenario's capacity; raises UsageError when it cannot be searched."""
    specs = all_thresholds(scenario.thresholds, scenario.targets)
    if not specs:
        raise UsageError(
            "capacity needs thresholds to meet: add e.g. thresholds: ['p99(latency) < 2s']"
        )
    thresholds = [s.parsed() for s in specs]
    config = capacity_config(scenario)
    budget = budget_s if budget_s is not None else config.budget
    settings = SearchSettings(
        start=config.start,
        max=config.max,
        resolution=config.resolution,
        repeats=config.repeats,
        integer=config.vary == "users",
    )
    estimating = config.first_estimate == "adaptive"
    estimate_load = None
    if estimating:  # the adaptive run's time comes out of the steps' share of the budget
        target = adaptive_target(specs)
        timing = step_timing(config, settings, budget, estimated=True)
        grace = min(timing.grace_s, api.grace_s(scenario))
        estimate_load = adaptive_load(scenario, config, target, timing.measure_s, grace)
        reserved = planned_wall_s(estimate_load)
        timing = step_timing(config, settings, max(budget - reserved, 1.0), estimated=True)
    else:
        reserved = 0.0
        timing = step_timing(config, settings, budget)
    if timing.expected_wall_s + reserved > budget:
        raise UsageError(
            f"a budget of {budget:g}s is shorter than one step (~{timing.expected_wall_s:.0f}s)"
            + (f" after the adaptive first estimate (~{reserved:.0f}s)" if reserved else "")
            + ": give a longer --budget or a shorter capacity.step_duration"
        )
    base = out_dir or _default_dir(scenario)
    if base.is_dir() and any(base.iterdir()):
        raise UsageError(f"{base}: already exists and is not empty; choose another --out")
    (base / "steps").mkdir(parents=True, exist_ok=True)
    steps: list[StepRecord] = []
    runs_at: dict[float, list[Path]] = {}
    phases_s = {"probe": 0.0, "bisect": 0.0, "repeat": 0.0}
    started = time.monotonic()
    stop_reason: str | None = None
    first_estimate: dict[str, Any] | None = None
    if estimate_load is not None:
        first_estimate = run_first_estimate(scenario, config, estimate_load, base)
        phases_s = {"estimate": time.monotonic() - started, **phases_s}
        if first_estimate["value"] is not None:
            settings = dataclasses.replace(settings, estimate=first_estimate["value"])
            first_estimate["first_step"] = settings.first
        if first_estimate["status"] == "interrupted":
            stop_reason = "interrupted"
    search = CapacitySearch(settings)
    window = (int(timing.warmup_s * NS_PER_S), int((timing.warmup_s + timing.measure_s) * NS_PER_S))

    def document(stopped: bool) -> dict[str, Any]:
        return capacity_document(
            name=scenario.name,
            vary=config.vary,
            settings={
                **config.model_dump(mode="json"),
                "budget": budget,
                "step_duration_s": timing.measure_s,
                "warmup_s": timing.warmup_s,
                "grace_s": timing.grace_s,
            },
            steps=steps,
            search=search.result(stopped=stopped),
            level=config.confidence,
            budget_s=budget,
            elapsed_s=time.monotonic() - started,
            phases_s=phases_s,
            stop_reason=stop_reason,
            first_estimate=first_estimate,
        )

    while stop_reason is None and (planned := search.next_step()) is not None:
        elapsed = time.monotonic() - started
        expected = max([s.wall_s for s in steps[-3:]] + [timing.expected_wall_s])
        if elapsed + expected > budget:
            stop_reason = f"budget: {budget - elapsed:.0f}s left, a step takes ~{expected:.0f}s"
            break
        index = len(steps) + 1
        run_dir = base / "steps" / f"{index:02d}-{planned.value:g}"
        step_started = time.monotonic()
        result = api.run(
            _step_scenario(scenario, config, planned, timing, index),
            out_dir=run_dir,
            handle_signals=True,
        )
        wall = time.monotonic() - step_started
        phases_s[planned.phase] += wall
        runs_at.setdefault(planned.value, []).append(run_dir)
        stats = _pooled_stats(runs_at[planned.value], thresholds, window)
        step = StepRecord(
            index=index,
            planned=planned,
            run_dir=str(run_dir.relative_to(base)),
            started_s=step_started - started,
            wall_s=wall,
            stats=stats,
        )
        steps.append(step)
        decision = search.observe(
            Observation(
                value=planned.value,
                verdict=stats.verdict(config.confidence),
                lean=stats.lean(),
                saturated=stats.saturation is not None,
                completed_per_s=stats.completed_per_s,
            )
        )
        write_json_atomic(base / CAPACITY_FILE, document(stopped=True))
        if on_step is not None:
            on_step(step, decision)
        if result.status == "interrupted":
            stop_reason = "interrupted"
            break
    final = document(stopped=stop_reason is not None)
    write_json_atomic(base / CAPACITY_FILE, final)
    write_capacity_markdown(base, final)
    write_capacity_html(base)
    return CapacityOutcome(path=base, document=final)


def _step_scenario(
    scenario: Scenario, config: CapacityConfig, planned: Planned, timing: StepTiming, index: int
) -> Scenario:
    load = scenario.load
    own_grace = load.grace if load.grace is not None else api.grace_s(scenario)
    update: dict[str, Any] = {
        "duration": timing.warmup_s + timing.measure_s,
        "grace": min(own_grace, timing.grace_s),
    }
    if config.vary == "users":
        update.update(users=int(planned.value), requests=None)
    elif config.vary == "sessions_rate":
        update.update(rate=planned.value, sessions=None)
    else:
        update.update(rate=planned.value, requests=None)
    seed = int(np.random.SeedSequence([scenario.seed, index]).generate_state(1)[0])
    return scenario.model_copy(
        update={"load": load.model_copy(update=update), "capacity": None, "seed": seed}
    )


def _pooled_stats(
    run_dirs: list[Path], thresholds: list[Threshold], window: tuple[int, int]
) -> StepStats:
    records = (r for path in run_dirs for r in RunDir.open(path).iter_records())
    return step_stats(records, thresholds, start_ns=window[0], end_ns=window[1], runs=len(run_dirs))


def _default_dir(scenario: Scenario, base: Path = Path("runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{stamp}-{scenario.name}-capacity"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = base / f"{stamp}-{scenario.name}-capacity-{suffix}"
    return candidate
