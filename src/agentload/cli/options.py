"""Options shared by several subcommands, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path

import typer

SCENARIO_ARG = typer.Argument(
    ..., help="Scenario file (YAML).", show_default=False, metavar="SCENARIO"
)
SET_OPTION = typer.Option(
    [],
    "--set",
    help="Override a scenario field: --set load.rate=50/s (repeatable).",
    show_default=False,
    metavar="PATH=VALUE",
)
OUT_OPTION: Path | None = typer.Option(
    None,
    "--out",
    help="Run directory to write (default: runs/<timestamp>-<name>/).",
    show_default=False,
)
SEED_OPTION: int | None = typer.Option(
    None, "--seed", help="Override the scenario's seed.", metavar="N"
)
DURATION_OPTION: str | None = typer.Option(
    None, "--duration", help="Override load.duration, e.g. 30s or 2m.", metavar="DURATION"
)
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="No live progress display.")
JSON_OPTION = typer.Option(
    False, "--json", help="Print the summary as JSON on stdout instead of tables."
)
