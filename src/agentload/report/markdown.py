"""Compact Markdown for a pull-request comment: a run's summary, or a comparison of two runs.

Text from the run (action names, warnings, error kinds) is put in table cells with ``|`` and
newlines escaped, so a value cannot break the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentload.analysis.compare import Comparison, MetricChange
from agentload.report.adaptive import adaptive_line
from agentload.report.bottleneck_view import markdown_lines as bottleneck_markdown
from agentload.report.jobs import jobs_line
from agentload.report.personas import PERSONA_COLUMNS, persona_rows
from agentload.report.probe import probe_markdown
from agentload.report.slo_view import goodput_lines, thresholds_markdown, trust_line
from agentload.report.terminal import LATENCY_ROWS
from agentload.units import format_duration_ms, format_rate


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def _ms(value: object) -> str:
    return format_duration_ms(value) if isinstance(value, int | float) else "-"


def _rate(value: object) -> str:
    return format_rate(value) if isinstance(value, int | float) else "-"


def summary_markdown(
    summary: Mapping[str, Any],
    *,
    title: str,
    status: str = "",
    probe: Mapping[str, Any] | None = None,
    adaptive: Mapping[str, Any] | None = None,
) -> str:
    """``summary`` is the summary.json layout (a dict), thresholds included when present;
    ``probe`` the run directory's probe.json (``report.probe.load_probe``) and ``adaptive``
    its adaptive.json (``report.adaptive.load_adaptive``), if any."""
    counts, rate = summary.get("counts", {}), summary.get("rate", {})
    sent = counts.get("sent", 0)
    error_rate = f"{counts.get('error', 0) / sent:.2%}" if sent else "-"
    lines = [f"### agentload: {cell(title)}" + (f" ({cell(status)})" if status else ""), ""]
    if untrusted := trust_line(summary):  # before any number: they include its delays
        lines += [f"**⚠️ {cell(untrusted)}**", ""]
    lines.append(
        f"**{counts.get('requests', 0):,}** requests · {counts.get('ok', 0):,} ok · "
        f"{counts.get('error', 0):,} errors ({error_rate}) · {counts.get('dropped', 0):,} dropped"
        f" · achieved {_rate(rate.get('achieved_per_s'))}"
        f" (target {_rate(rate.get('target_per_s'))})"
        f" · ok {_rate(rate.get('ok_per_s'))}"
    )
    lines.append("")
    metrics = summary.get("metrics", {})
    rows = []
    for label, key in LATENCY_ROWS:
        stats = metrics.get(key)
        if isinstance(stats, dict) and stats.get("count"):
            rows.append(
                [
                    label,
                    f"{stats['count']:,}",
                    *(_ms(stats.get(k)) for k in ("p50", "p90", "p99", "max")),
                ]
            )
    lines += (
        md_table(("metric", "n", "p50", "p90", "p99", "max"), rows) if rows else ["No ok requests."]
    )
    if personas := persona_rows(summary.get("sessions")):
        lines += ["", "**By persona**", "", *md_table(PERSONA_COLUMNS, personas)]
    if jobs := jobs_line(summary.get("jobs")):
        lines += ["", f"Async {jobs}"]
    thresholds = summary.get("thresholds")
    if isinstance(thresholds, list) and thresholds:
        dicts = [t for t in thresholds if isinstance(t, dict)]
        lines += ["", "**Thresholds**", "", *thresholds_markdown(dicts, cell)]
    if goodput := goodput_lines(summary.get("goodput")):
        lines += ["", *goodput]
    if adaptive is not None:  # load.model: adaptive: where it settled
        lines += ["", cell(adaptive_line(adaptive))]
    errors = summary.get("errors_by_kind", {})
    if errors:
        lines += ["", "Errors: " + ", ".join(f"{cell(k)} {v:,}" for k, v in errors.items())]
    if isinstance(summary.get("bottleneck"), dict):
        lines += bottleneck_markdown(summary["bottleneck"], cell)
    if probe is not None:
        lines += probe_markdown(probe, cell)
    if summary.get("warnings"):
        lines.append("")
    for warning in summary.get("warnings", []):
        lines.append(f"> ⚠️ {cell(warning)}")
    return "\n".join(lines) + "\n"


_ICONS = {
    "improved": "🟢 improved",
    "regressed": "🔴 regressed",
    "no change": "⚪ no change",
    "inconclusive": "❔ inconclusive",
}


def format_value(change: MetricChange, value: float | None) -> str:
    if value is None:
        return "-"
    if change.unit == "ms":
        return format_duration_ms(value) if value >= 0 else "-" + format_duration_ms(-value)
    if change.unit == "/s":
        return f"{value:,.1f}/s"
    return f"{value:.2%}"


def format_delta(change: MetricChange) -> tuple[str, str, str]:
    """(absolute change, relative change, interval of the change) as text."""
    delta = change.delta
    if delta is None:
        return "-", "-", "-"
    sign = "+" if delta >= 0 else ""
    absolute = sign + format_value(change, delta)
    relative = "-" if change.relative is None else f"{change.relative:+.1%}"
    if change.ci_low is None or change.ci_high is None:
        return absolute, relative, "-"
    return (
        absolute,
        relative,
        f"[{format_value(change, change.ci_low)}, {format_value(change, change.ci_high)}]",
    )


def comparison_row(change: MetricChange, verdict_prefix: str = "") -> tuple[str, ...]:
    """One metric as text cells: name, base, new, change, relative, interval, verdict."""
    absolute, relative, interval = format_delta(change)
    verdict = (verdict_prefix or change.verdict) + (f" ({change.reason})" if change.reason else "")
    return (
        change.name,
        format_value(change, change.base),
        format_value(change, change.new),
        absolute,
        relative,
        interval,
        verdict,
    )


def attribution_lines(comparison: Comparison) -> list[str]:
    lines = []
    by_name = {m.name: m for m in comparison.metrics}
    for name, phases in comparison.attribution.items():
        metric = by_name.get(name)
        if metric is None or metric.relative is None:
            continue
        attributed = [p for p in phases if not p.detail]
        parts = [
            f"{p.phase} {p.delta_ms:+.1f} ms"
            + ("" if p.share is None else f" ({p.share:.0%} of the change)")
            for p in attributed[:4]
            if abs(p.delta_ms) >= 0.05
        ]
        if parts:
            lines.append(
                f"- {name.replace('_', ' ')} {metric.relative:+.0%}, of which " + ", ".join(parts)
            )
        # Client-measured phases overlap the ones above: shown apart, never added to them.
        details = [
            f"{p.phase} {p.delta_ms:+.1f} ms"
            for p in phases
            if p.detail and abs(p.delta_ms) >= 0.05
        ][:4]
        if details:
            lines.append(
                f"- {name.replace('_', ' ')} detail (client-measured, overlaps the above): "
                + ", ".join(details)
            )
    return lines


def compare_markdown(comparison: Comparison) -> str:
    lines = [
        f"### agentload compare: {cell(comparison.base_name)} → {cell(comparison.new_name)}",
        "",
    ]
    rows = [list(comparison_row(m, _ICONS[m.verdict])) for m in comparison.metrics]
    lines += md_table(
        (
            "metric",
            "base",
            "new",
            "change",
            "relative",
            f"{comparison.confidence:.1%} CI",
            "verdict",
        ),
        rows,
    )
    attribution = attribution_lines(comparison)
    if attribution:
        lines += ["", "**Where the change came from** (server phases near each percentile):", ""]
        lines += attribution
    regressions = comparison.regressions
    lines += [
        "",
        f"**{len(regressions)} significant regression(s)**"
        if regressions
        else "No significant regression.",
    ]
    return "\n".join(lines) + "\n"
