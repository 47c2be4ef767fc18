"""``agentload compare BASE NEW``: did a change make things better, worse, or neither?"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from agentload.analysis.compare import compare_sides
from agentload.analysis.compare_samples import load_run_samples
from agentload.cli.console import make_console
from agentload.errors import UsageError
from agentload.report.html_compare import render_compare_html
from agentload.report.markdown import (
    attribution_lines,
    compare_markdown,
    comparison_row,
)

HELP = (
    "Compare two run directories metric by metric (sent and ok rate, goodput when the runs' "
    "thresholds set per-request objectives, error rate, latency/TTFT/ITL percentiles, per "
    "action): base and new values, the change, a confidence interval of the change (block "
    "bootstrap over time for percentiles, of their ratio; Poisson and batch-means intervals "
    "for rates; two proportions for errors), and a verdict: improved, regressed, "
    "no change, or inconclusive (too few samples or a run too short). When records carry "
    "Server-Timing phases, says which phases the change came from. Either side may be "
    "several replicate runs of one configuration, comma-separated (BASE1,BASE2 NEW1,NEW2): "
    "values are then means over the runs and the spread between them widens the intervals, "
    "which is what makes a comparison on a noisy machine trustworthy. Exit codes: 0 done; "
    "1 a significant regression with --fail-on-regression; 2 unreadable or incompatible runs."
)
_STYLES = {"improved": "green", "regressed": "red", "no change": "", "inconclusive": "yellow"}


def parse_tolerances(values: list[str]) -> dict[str, float]:
    """``NAME=5%`` or ``NAME=0.05`` → {NAME: 0.05}."""
    out = {}
    for value in values:
        name, sep, amount = value.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            number = float(amount.rstrip("%")) / (100 if amount.endswith("%") else 1)
        except ValueError:
            raise UsageError(
                f"--tolerance {value!r}: write NAME=PERCENT, e.g. latency_p99=5%"
            ) from None
        if number < 0:
            raise UsageError(f"--tolerance {value!r}: a tolerance cannot be negative")
        out[name.strip()] = number
    return out


def parse_side(value: str, label: str) -> list[Path]:
    """``DIR`` or ``DIR1,DIR2,...`` → run directories (replicates of one side)."""
    parts = [part.strip() for part in value.split(",")]
    if not all(parts):
        raise UsageError(f"{label} {value!r}: an empty run directory name; write DIR or DIR1,DIR2")
    if len(set(parts)) != len(parts):
        raise UsageError(f"{label} {value!r}: a run directory is listed twice")
    return [Path(part) for part in parts]


def compare_command(
    base: str = typer.Argument(
        ...,
        metavar="BASE",
        help="The run directory before the change, or several comma-separated replicates.",
    ),
    new: str = typer.Argument(
        ...,
        metavar="NEW",
        help="The run directory after the change, or several comma-separated replicates.",
    ),
    fail_on_regression: bool = typer.Option(
        False, "--fail-on-regression", help="Exit 1 when any metric regressed significantly."
    ),
    tolerance: list[str] = typer.Option(
        [],
        "--tolerance",
        metavar="NAME=PCT",
        help="Ignore changes up to PCT for a metric (or a family such as 'latency'); "
        "default 5%; repeatable, e.g. --tolerance latency_p99=2%.",
    ),
    md: bool = typer.Option(False, "--md", help="Print Markdown instead of a terminal table."),
    md_to: Path | None = typer.Option(None, "--md-to", metavar="PATH", help="Write Markdown."),
    html_to: Path | None = typer.Option(
        None, "--html-to", metavar="PATH", help="Write an HTML page with side-by-side plots."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
) -> None:
    tolerances = parse_tolerances(tolerance)
    base_dirs, new_dirs = parse_side(base, "BASE"), parse_side(new, "NEW")
    comparison = compare_sides(
        [load_run_samples(path) for path in base_dirs],
        [load_run_samples(path) for path in new_dirs],
        tolerances=tolerances,
        seed=seed,
    )
    if md_to is not None:
        md_to.write_text(compare_markdown(comparison), encoding="utf-8")
        print(f"wrote {md_to}", file=sys.stderr)
    if html_to is not None:
        html_to.write_text(
            render_compare_html(comparison, base_dirs[0], new_dirs[0]), encoding="utf-8"
        )
        print(f"wrote {html_to}", file=sys.stderr)
    if md:
        print(compare_markdown(comparison), end="")
    else:
        console = make_console()
        ci = f"{comparison.confidence:.1%} CI"
        table = Table(title=f"{comparison.base_name} → {comparison.new_name}", title_justify="left")
        for column in ("metric", "base", "new", "change", "relative", ci, "verdict"):
            table.add_column(column, justify="left" if column in ("metric", "verdict") else "right")
        for m in comparison.metrics:
            *cells, verdict = comparison_row(m)
            style = _STYLES[m.verdict]
            table.add_row(*cells, f"[{style}]{verdict}[/]" if style else verdict)
        console.print(table)
        for line in attribution_lines(comparison):
            console.print(line, markup=False)
    if fail_on_regression and comparison.regressions:
        names = ", ".join(m.name for m in comparison.regressions)
        print(f"significant regression: {names}", file=sys.stderr)
        raise typer.Exit(1)
