"""A capacity search for people: the terminal view and ``capacity.md``, both from the
``capacity.json`` document alone (fields: docs/capacity.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentload.report.slo_view import threshold_value
from agentload.slo.evaluate import UNITS
from agentload.slo.grammar import parse_threshold
from agentload.units import format_duration_ms

CAPACITY_MARKDOWN = "capacity.md"
STEP_COLUMNS = (
    "#",
    "phase",
    "value",
    "completed/s",
    "p50",
    "p99",
    "errors",
    "verdict",
    "confidence",
)


def step_row(step: Mapping[str, Any]) -> tuple[str, ...]:
    verdict = str(step["verdict"])
    if verdict == "uncertain":
        verdict = f"uncertain ({step['lean']}?)"
    if step.get("saturation"):
        verdict += " saturated"
    return (
        str(step["index"]),
        f"{step['phase']}" + (f" #{step['run']}" if step["run"] > 1 else ""),
        _num(step["value"]),
        f"{step['completed_per_s']:.1f}",
        format_duration_ms(step["p50_ms"]),
        format_duration_ms(step["p99_ms"]),
        f"{step['error_rate']:.1%}",
        verdict,
        f"{step['confidence']:.0%}",
    )


def headline(doc: Mapping[str, Any]) -> list[str]:
    """The findings, one line each, the same in the terminal and in Markdown."""
    unit = doc["unit"]
    status = doc["status"]
    capacity = doc["capacity"]
    lines: list[str] = []
    if capacity is None:
        lines.append(f"capacity: below the start value ({_num(doc['settings']['start'])} {unit})")
    else:
        upper = doc["upper"]
        bound = f"{_num(doc['lower'])} .. {_num(upper) if upper is not None else 'max+'}"
        level = f"{doc['confidence_level']:.0%}"
        lines.append(f"capacity: {_num(capacity)} {unit}  (bounds {bound} at {level}; {status})")
    if estimate := doc.get("first_estimate"):  # capacity.first_estimate: adaptive
        start = estimate.get("first_step")
        lines.append(
            f"first estimate (adaptive, holding {estimate['target']}): "
            f"{_num(estimate['value'])} {unit} in {estimate['wall_s']:.0f}s, {estimate['note']}"
            + ("" if start is None else f"; the search started at {_num(start)}")
        )
    broke = doc.get("first_threshold_to_break")
    if broke:
        what = broke.get("expr") or broke.get("saturation") or "?"
        observed = broke.get("observed")
        seen = (
            f" (observed {_observed(broke.get('expr'), observed)})"
            if isinstance(observed, int | float)
            else ""
        )
        lines.append(f"first to break: {what}{seen} at {_num(broke['value'])} {unit}")
    knee = doc.get("knee")
    if knee:
        lines.append(
            f"knee (kneedle, p99 over value): {_num(knee['value'])} {unit}, "
            f"p99 {format_duration_ms(knee['p99_ms'])}"
        )
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in doc["phases_s"].items())
    lines.append(f"time: {doc['elapsed_s']:.0f}s of {doc['budget_s']:.0f}s budget ({phases})")
    if doc.get("stop_reason"):
        lines.append(f"stopped early: {doc['stop_reason']}")
    lines += [f"warning: {text}" for text in doc.get("warnings") or ()]
    return lines


def render_capacity(doc: Mapping[str, Any]) -> RenderableType:
    table = Table(title=f"capacity search: {doc['vary']} ({doc['unit']})", title_justify="left")
    for name in STEP_COLUMNS:
        table.add_column(name, justify="left" if name in ("phase", "verdict") else "right")
    for step in doc["steps"]:
        table.add_row(*step_row(step))
    return Group(table, *(Text(line) for line in headline(doc)))


def capacity_markdown(doc: Mapping[str, Any]) -> str:
    lines = [f"# Capacity: {doc['name']}", ""]
    lines += [f"- {line}" for line in headline(doc)]
    lines += ["", "| " + " | ".join(STEP_COLUMNS) + " |", "|" + "---|" * len(STEP_COLUMNS)]
    lines += ["| " + " | ".join(step_row(s)) + " |" for s in doc["steps"]]
    lines += ["", "Each step's run directory is under `steps/`.", ""]
    return "\n".join(lines)


def write_capacity_markdown(path: Path, doc: Mapping[str, Any]) -> None:
    (path / CAPACITY_MARKDOWN).write_text(capacity_markdown(doc), encoding="utf-8")


def _num(value: float | int | Sequence[Any] | None) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _observed(expr: object, value: float) -> str:
    """The observed value in its threshold's unit (569ms, 1.2%), as the run report shows it."""
    try:
        unit = UNITS[parse_threshold(str(expr)).kind]
    except (ValueError, KeyError):
        return f"{value:.4g}"
    return threshold_value(value, unit)
