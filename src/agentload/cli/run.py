"""``agentload run SCENARIO``: run a load test and write its run directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agentload import api
from agentload.cli.console import make_console
from agentload.cli.options import (
    DURATION_OPTION,
    JSON_OPTION,
    OUT_OPTION,
    QUIET_OPTION,
    SCENARIO_ARG,
    SEED_OPTION,
    SET_OPTION,
)
from agentload.cli.progress import METRICS_PORT_OPTION, make_progress, serve_live_metrics
from agentload.config import Scenario, load_scenario

HELP = (
    "Run the load test a scenario describes, show live progress, print the summary and "
    "write the run directory (records.jsonl, summary.json, meta.json, scenario.yaml). "
    "Ctrl-C once stops sending and lets in-flight requests finish (grace period); twice "
    "cancels them. Exit codes: 0 ok, 1 threshold failed, nothing succeeded or the target "
    "stayed unreachable (target.unreachable_abort_after), 2 bad input, "
    "3 interrupted or error."
)


def run_command(
    scenario: Path = SCENARIO_ARG,
    set_: list[str] = SET_OPTION,
    out: Path | None = OUT_OPTION,
    seed: int | None = SEED_OPTION,
    duration: str | None = DURATION_OPTION,
    quiet: bool = QUIET_OPTION,
    json_: bool = JSON_OPTION,
    metrics_port: str | None = METRICS_PORT_OPTION,
) -> None:
    overrides = list(set_ or ())
    if seed is not None:
        overrides.append(f"seed={seed}")
    if duration is not None:
        overrides.append(f"load.duration={duration}")
    loaded = load_scenario(scenario, overrides=overrides)
    raise typer.Exit(
        execute(loaded, out=out, quiet=quiet, as_json=json_, metrics_port=metrics_port)
    )


def execute(
    scenario: Scenario,
    *,
    out: Path | None,
    quiet: bool,
    as_json: bool,
    metrics_port: str | None = None,
) -> int:
    """Run, print, and return the exit code (shared with ``agentload demo``)."""
    # --json: rich is never loaded; --quiet: only after the load phase, for the summary
    # (1.7 MB less resident while sending).
    console = None if as_json or quiet else make_console()
    if console is not None:
        console.print(f"[bold]agentload[/] {scenario.name} → {scenario.target.base_url}")
    progress = None if console is None else make_progress(quiet=quiet, console=console)
    try:
        with serve_live_metrics(metrics_port, scenario) as live:
            result = api.run(
                scenario, out_dir=out, progress=progress, handle_signals=True, live_metrics=live
            )
    finally:
        if progress is not None:
            progress.close()  # leaves the terminal as it was even if the run never started
    if as_json:
        print(json.dumps(result.summary.to_dict(), indent=2))
    else:
        console = console or make_console()
        from agentload.report.adaptive import adaptive_line, load_adaptive
        from agentload.report.terminal import render_summary  # rich, after the load phase

        console.print(render_summary(result.summary))
        if (adaptive := load_adaptive(result.run_dir)) is not None:  # load.model: adaptive
            console.print(adaptive_line(adaptive), markup=False)
        console.print(f"run directory: {result.run_dir}")
        if (result.run_dir / "report.html").is_file():
            console.print(f"report: {result.run_dir / 'report.html'}")
        if result.aborted_by is not None:
            console.print(f"[red]run aborted: threshold {result.aborted_by!r} failed[/]")
        elif result.status == "aborted_unreachable":
            console.print("[red]run aborted: the target was unreachable (see warnings)[/]")
        elif result.status != "complete":
            console.print(f"[yellow]run {result.status}[/]")
    return exit_code(result)


def exit_code(result: api.RunResult) -> int:
    """1 for a run an abort_on_fail threshold stopped; 3 for one that did not complete
    otherwise; 1 when a threshold failed or not one request succeeded (a dead target must
    not pass a CI gate); 0 otherwise. A threshold with no data does not fail."""
    if result.status in ("aborted", "aborted_unreachable"):
        return 1
    if result.status != "complete":
        return 3
    if result.summary.requests > 0 and result.summary.ok == 0:
        return 1
    if result.summary.thresholds_failed:
        return 1
    return 0
