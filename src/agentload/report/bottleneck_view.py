"""The "Bottleneck" section of every report, from the summary.json ``bottleneck`` entry.

Terminal and Markdown show the verdict, its confidence and the evidence lines, and a table of
each cause's share of latency; the HTML report adds a plot: the share of latency in each
component per window, stacked (each line is the running total up to that component, so the
band under a line and above the previous one is that component's share).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from agentload.report.html_charts import PALETTE, Spec
from agentload.report.html_page import esc, table

CHART_ID: Final = "phase-shares"
# Bottom to top: the work, then waiting inside the server, then outside it.
STACK_ORDER: Final = (
    "prefill",
    "decode",
    "queue",
    "queue_wait",
    "store_read",
    "store_write",
    "session_create",
    "tool",
    "server_other",
    "service",
    "network_or_client",
    "poll_overhead",
    "schedule_lag",
)


def confidence_word(confidence: float) -> str:
    if confidence >= 0.7:
        return "strong"
    if confidence >= 0.4:
        return "probable"
    return "weak: check the evidence"


def headline(bottleneck: Mapping[str, Any]) -> str:
    name = str(bottleneck.get("name", "none"))
    confidence = float(bottleneck.get("confidence", 0.0))
    what = str(bottleneck.get("headline", name))
    label = what if name == "none" else f"{name}: {what}"
    return f"{label} (confidence {confidence:.2f}, {confidence_word(confidence)})"


def cause_rows(bottleneck: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(cause, share over all ok requests, share near p95), largest first; > 0.5% only."""
    causes = bottleneck.get("causes", {})
    everyone, tail = causes.get("all", {}), causes.get("tail", {})
    ordered = sorted(everyone.items(), key=lambda kv: -kv[1])
    return [
        (name, f"{share:.0%}", f"{tail[name]:.0%}" if name in tail else "-")
        for name, share in ordered
        if share >= 0.005
    ]


def text_lines(bottleneck: Mapping[str, Any]) -> list[str]:
    lines = [f"bottleneck: {headline(bottleneck)}"]
    lines += [f"  - {line}" for line in bottleneck.get("evidence", [])]
    rows = cause_rows(bottleneck)
    if rows:
        lines.append(
            "  share of latency (all / near p95): "
            + ", ".join(f"{name} {share}/{tail}" for name, share, tail in rows)
        )
    return lines


def markdown_lines(bottleneck: Mapping[str, Any], cell: Any) -> list[str]:
    """``cell`` escapes text for a Markdown table cell (``report.markdown.cell``)."""
    lines = ["", "**Bottleneck**: " + cell(headline(bottleneck)), ""]
    lines += [f"- {cell(line)}" for line in bottleneck.get("evidence", [])]
    rows = cause_rows(bottleneck)
    if rows:
        lines += ["", "| cause | share of latency | near p95 |", "|---|---:|---:|"]
        lines += [f"| {cell(a)} | {b} | {c} |" for a, b, c in rows]
    return lines


def html_section(bottleneck: Mapping[str, Any]) -> str:
    evidence = "".join(f"<li>{esc(line)}</li>" for line in bottleneck.get("evidence", []))
    rows = cause_rows(bottleneck)
    causes = table(("cause", "share of latency", "near p95"), rows, numeric_from=1) if rows else ""
    tone = "bad" if bottleneck.get("trustworthy") is False else ""
    return (
        f'<h2>Bottleneck</h2><p class="bottleneck {tone}"><strong>{esc(headline(bottleneck))}'
        f"</strong></p><ul>{evidence}</ul>{causes}"
    )


def phase_share_chart(bottleneck: Mapping[str, Any]) -> Spec | None:
    """Stacked shares of latency per window (percent); None without windows."""
    windows = bottleneck.get("windows")
    if not isinstance(windows, Mapping) or not windows.get("start_s"):
        return None
    shares: Mapping[str, Sequence[float | None]] = windows.get("shares", {})
    names = [n for n in STACK_ORDER if n in shares] + sorted(set(shares) - set(STACK_ORDER))
    names = [n for n in names if any(v for v in shares[n] if v)]
    width = float(windows.get("window_s", 1.0))
    xs = [round(float(s) + width, 3) for s in windows["start_s"]]  # a window ends at x
    running = [0.0] * len(xs)
    columns: list[tuple[str, list[float | None]]] = []
    for name in names:
        column: list[float | None] = []
        for i, value in enumerate(shares[name]):
            if value is None or not math.isfinite(value):
                column.append(None)
                continue
            running[i] += 100 * value
            column.append(round(running[i], 2))
        columns.append((name, column))
    # uPlot fills each series down to zero: drawing the highest first stacks the bands.
    columns.reverse()
    series = [
        {"label": name, "color": _color(names.index(name)), "fill": _color(names.index(name), 0.55)}
        for name, _ in columns
    ]
    return {
        "id": CHART_ID,
        "title": "Where the latency went: share of each phase over time (stacked)",
        "x": "time",
        "yLabel": "% of latency (cumulative)",
        "yLog": False,
        "series": series,
        "data": [xs, *(c for _, c in columns)],
        "note": (
            f"Ok requests by intended start, {width:g} s windows. Each line is the running "
            "total up to that phase; the band below it is the phase's share."
        ),
    }


def _color(index: int, alpha: float | None = None) -> str:
    color = PALETTE[index % len(PALETTE)]
    if alpha is None:
        return color
    return color + f"{round(alpha * 255):02x}"
