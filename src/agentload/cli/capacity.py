"""``agentload capacity SCENARIO``: the largest load that still meets every threshold."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agentload.analysis.capacity import Decision
from agentload.analysis.capacity_result import StepRecord
from agentload.capacity_runner import run_capacity
from agentload.cli.console import make_console
from agentload.cli.options import JSON_OPTION, QUIET_OPTION, SCENARIO_ARG, SEED_OPTION, SET_OPTION
from agentload.config import load_scenario
from agentload.errors import UsageError
from agentload.report.capacity import STEP_COLUMNS, render_capacity, step_row
from agentload.units import parse_duration_s

HELP = (
    "Find the largest request rate, number of users or session arrival rate (the scenario's "
    "capacity.vary) at which every threshold still passes: probe x2 until a step fails, then "
    "bisect to capacity.resolution; a step whose verdict is not statistically confident is "
    "repeated. With capacity.first_estimate: adaptive, one short adaptive run first finds "
    "where the latency target settles, and the search starts there (OUT/steps/00-adaptive). "
    "Each step is a run directory under OUT/steps/; OUT/capacity.json and "
    "OUT/capacity.md hold the result (capacity, bounds, first threshold to break, knee, every "
    "step). Exit codes: 0 capacity found, 1 even the start value fails, 2 bad input, "
    "3 interrupted or error."
)

BUDGET_OPTION: str | None = typer.Option(
    None,
    "--budget",
    help="Wall time for the whole search, e.g. 5m (default: capacity.budget, 5m).",
    metavar="DURATION",
)
OUT_OPTION: Path | None = typer.Option(
    None,
    "--out",
    help="Directory to write (default: runs/<timestamp>-<name>-capacity/).",
    show_default=False,
)


def capacity_command(
    scenario: Path = SCENARIO_ARG,
    set_: list[str] = SET_OPTION,
    budget: str | None = BUDGET_OPTION,
    out: Path | None = OUT_OPTION,
    seed: int | None = SEED_OPTION,
    quiet: bool = QUIET_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    budget_s = None
    if budget is not None:
        try:
            budget_s = parse_duration_s(budget)
        except ValueError as exc:
            raise UsageError(f"--budget: {exc}") from None
        if budget_s <= 0:
            raise UsageError("--budget: give a positive duration, e.g. 5m")
    overrides = list(set_ or ())
    if seed is not None:
        overrides.append(f"seed={seed}")
    loaded = load_scenario(scenario, overrides=overrides)
    console = make_console()
    talk = not quiet and not json_

    def on_step(step: StepRecord, decision: Decision | None) -> None:
        if talk:
            if step.index == 1:
                console.print("  ".join(STEP_COLUMNS) + "  -> call  (wall)")
            row = step_row(
                {
                    "index": step.index,
                    "phase": step.planned.phase,
                    "run": step.planned.run,
                    "value": step.planned.value,
                    **step.stats.to_dict(level),
                }
            )
            call = "" if decision is None else f" -> {decision.call}"
            console.print("  ".join(row) + call + f"  ({step.wall_s:.0f}s)")

    level = loaded.capacity.confidence if loaded.capacity is not None else 0.95
    if talk:
        console.print(f"[bold]agentload capacity[/] {loaded.name} → {loaded.target.base_url}")
    outcome = run_capacity(loaded, out_dir=out, budget_s=budget_s, on_step=on_step)
    doc = outcome.document
    if json_:
        print(json.dumps(doc, indent=2))
    else:
        console.print(render_capacity(doc))
        console.print(f"capacity directory: {outcome.path}")
    if doc["stop_reason"] == "interrupted":
        raise typer.Exit(3)
    raise typer.Exit(1 if doc["capacity"] is None else 0)
