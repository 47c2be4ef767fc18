"""``agentload report RUN_DIR``: recompute and print the summary from the records alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agentload import api
from agentload.cli.console import make_console
from agentload.cli.options import JSON_OPTION
from agentload.report.terminal import render_summary

HELP = (
    "Recompute the summary of a run directory from its records alone, print it and "
    "rewrite summary.json. Works on runs that were interrupted or killed (reported as "
    "incomplete)."
)


def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by agentload run."),
    json_: bool = JSON_OPTION,
) -> None:
    summary, meta, stats = api.summarize_run_dir(run_dir)
    status = str(meta.get("status", "unknown"))
    if status == "running":
        status = "incomplete (the run ended without finishing; records up to its last flush)"
    if json_:
        print(json.dumps({**summary.to_dict(), "run_status": meta.get("status")}, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{meta.get('name', run_dir.name)}[/] — status: {status}")
    if stats.skipped_torn_tail:
        console.print("[yellow]the last record was cut off mid-write and was skipped[/]")
    console.print(render_summary(summary))
