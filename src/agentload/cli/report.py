"""``agentload report RUN_DIR``: recompute and print the summary from the records alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from agentload import api
from agentload.capacity_runner import CAPACITY_FILE
from agentload.cli.console import make_console
from agentload.cli.options import JSON_OPTION
from agentload.errors import RunDirError
from agentload.report.adaptive import adaptive_line, load_adaptive
from agentload.report.capacity import capacity_markdown, render_capacity
from agentload.report.html import HTML_FILE, write_run_html
from agentload.report.html_capacity import write_capacity_html
from agentload.report.markdown import summary_markdown
from agentload.report.probe import load_probe, probe_renderable
from agentload.report.terminal import render_summary

HELP = (
    "Recompute the summary of a run directory from its records alone, print it and "
    "rewrite summary.json. Works on runs that were interrupted or killed (reported as "
    "incomplete)."
)


def report_command(
    run_dir: Path = typer.Argument(
        ...,
        help="A run directory written by agentload run, or a capacity directory written by "
        "agentload capacity.",
    ),
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
    if (run_dir / CAPACITY_FILE).is_file() and not (run_dir / "meta.json").is_file():
        _report_capacity(run_dir, json_=json_, html=html, html_to=html_to, md=md, md_to=md_to)
        return
    summary, meta, stats = api.summarize_run_dir(run_dir)
    status = str(meta.get("status", "unknown"))
    if status == "running":
        status = "incomplete (the run ended without finishing; records up to its last flush)"
    if html or html_to is not None:
        written = write_run_html(run_dir, html_to)
        print(f"wrote {written}", file=sys.stderr)
    if md or md_to is not None:
        text = summary_markdown(
            summary.to_dict(),
            title=str(meta.get("name", run_dir.name)),
            status=status,
            probe=load_probe(run_dir),
            adaptive=load_adaptive(run_dir),
        )
        if md_to is not None:
            md_to.write_text(text, encoding="utf-8")
            print(f"wrote {md_to}", file=sys.stderr)
        if md:
            print(text, end="")
            return
    if json_:
        # summary.json's keys plus what only this output has (docs/summary.schema.json): the
        # run's status, RUN_DIR/probe.json and RUN_DIR/adaptive.json (null without them).
        extra = {
            "run_status": meta.get("status"),
            "probe": load_probe(run_dir),
            "adaptive": load_adaptive(run_dir),
        }
        print(json.dumps({**summary.to_dict(), **extra}, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{meta.get('name', run_dir.name)}[/] — status: {status}")
    if stats.skipped_torn_tail:
        console.print("[yellow]the last record was cut off mid-write and was skipped[/]")
    console.print(render_summary(summary))
    if (probe := load_probe(run_dir)) is not None:  # agentload probe URL --out RUN_DIR
        console.print(probe_renderable(probe))
    if (adaptive := load_adaptive(run_dir)) is not None:  # load.model: adaptive
        console.print(adaptive_line(adaptive), markup=False)


def _report_capacity(
    capacity_dir: Path,
    *,
    json_: bool,
    html: bool,
    html_to: Path | None,
    md: bool,
    md_to: Path | None,
) -> None:
    """A capacity search's directory: its capacity.json rendered as text, Markdown or HTML."""
    path = capacity_dir / CAPACITY_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable: {exc}") from None
    if not isinstance(doc, dict):
        raise RunDirError(f"{path}: expected a JSON object written by agentload capacity")
    if html or html_to is not None:
        written = write_capacity_html(capacity_dir, html_to)
        print(f"wrote {written}", file=sys.stderr)
    if md or md_to is not None:
        text = capacity_markdown(doc)
        if md_to is not None:
            md_to.write_text(text, encoding="utf-8")
            print(f"wrote {md_to}", file=sys.stderr)
        if md:
            print(text, end="")
            return
    if json_:
        print(json.dumps(doc, indent=2))
        return
    make_console().print(render_capacity(doc))
