"""``agentload export RUN_DIR --parquet|--csv``: the records as a table for pandas, DuckDB."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from agentload.errors import UsageError
from agentload.records.export import export_csv, export_parquet

HELP = (
    "Write a run's records as one table, one row per request: Parquet (--parquet; needs "
    "pip install 'agentload[parquet]') or CSV (--csv). Columns, types and units are listed in "
    "docs/export.md; times are nanoseconds on the run clock, durations milliseconds. Streams "
    "in batches, so a run of any size exports in bounded memory. Default output: "
    "RUN_DIR/records.parquet or RUN_DIR/records.csv. Exit codes: 0 written; 2 bad options, "
    "missing pyarrow or an unreadable run directory."
)


def export_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by agentload run."),
    parquet: bool = typer.Option(False, "--parquet", help="Write Parquet (zstd-compressed)."),
    csv: bool = typer.Option(False, "--csv", help="Write CSV (lists and maps as JSON text)."),
    out: Path | None = typer.Option(
        None, "--out", metavar="FILE", help="Output file (default: inside RUN_DIR)."
    ),
) -> None:
    if parquet == csv:
        raise UsageError("export: choose one format, --parquet or --csv")
    target = out if out is not None else run_dir / ("records.parquet" if parquet else "records.csv")
    if target.is_dir():
        raise UsageError(f"--out {target}: is a directory; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"--out {target}: the folder {target.parent} does not exist")
    result = export_parquet(run_dir, target) if parquet else export_csv(run_dir, target)
    torn = result.skipped_torn_tail
    note = " (the last record was cut off mid-write and skipped)" if torn else ""
    print(f"wrote {result.rows:,} records to {result.path}{note}", file=sys.stderr)
