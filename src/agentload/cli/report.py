"""``agentload report RUN_DIR``: recompute and print the summary from the records alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from agentload import api
from agentload.cli.console import make_console
from agentload.cli.options import JSON_OPTION
from agentload.report.html import HTML_FILE, write_run_html
from agentload.report.markdown import summary_markdown
from agentload.report.terminal import render_summary

HELP = (
    "Recompute the summary of a run directory from its records alone, print it and "
    "rewrite summary.json. Works on runs that were interrupted or killed (reported as "
    "incomplete)."
)


def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by agentload run."),
    json_: bool = JSON_OPTION,
    html: bool = typer.Option(
        False, "--html", help=f"Also write the HTML report to RUN_DIR/{HTML_FILE}."
    ),
    html_to: Path | None = typer.Option(
        None, "--html-to", metavar="PATH", help="Write the HTML report to PATH instead."
    ),
    md: bool = typer.Option(
        False, "--md", help="Print a Markdown summary (for a pull-request comment) instead."
    ),
    md_to: Path | None = typer.Option(
        None, "--md-to", metavar="PATH", help="Write the Markdown summary to PATH."
    ),
) -> None:
    summary, meta, stats = api.summarize_run_dir(run_dir)
    status = str(meta.get("status", "unknown"))
    if status == "running":
        status = "incomplete (the run ended without finishing; records up to its last flush)"
    if html or html_to is not None:
        written = write_run_html(run_dir, html_to)
        print(f"wrote {written}", file=sys.stderr)
    if md or md_to is not None:
        text = summary_markdown(
            summary.to_dict(), title=str(meta.get("name", run_dir.name)), status=status
        )
        if md_to is not None:
            md_to.write_text(text, encoding="utf-8")
            print(f"wrote {md_to}", file=sys.stderr)
        if md:
            print(text, end="")
            return
    if json_:
        print(json.dumps({**summary.to_dict(), "run_status": meta.get("status")}, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{meta.get('name', run_dir.name)}[/] — status: {status}")
    if stats.skipped_torn_tail:
        console.print("[yellow]the last record was cut off mid-write and was skipped[/]")
    console.print(render_summary(summary))
