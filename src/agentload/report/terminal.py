"""Terminal output with rich: the end-of-run summary and the live view during a run.

The live view reads a RollingWindow at ``elapsed_s`` on the run clock (0 = run start, the
clock records are stamped with) and the running totals of the live RunAggregator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentload.analysis.summary import MetricStats, Summary
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.window import RollingWindow, WindowSnapshot
from agentload.report.bottleneck_view import text_lines as bottleneck_lines
from agentload.report.jobs import jobs_line
from agentload.report.personas import persona_table
from agentload.report.slo_view import goodput_lines, threshold_value, trust_line
from agentload.slo.evaluate import Verdict
from agentload.units import format_duration_ms, format_rate

LATENCY_ROWS = (
    ("latency (from intended)", "latency_ms"),
    ("service time (from send)", "service_ms"),
    ("schedule lag", "schedule_lag_ms"),
    ("TTFT", "ttft_ms"),
    ("TTFB", "ttfb_ms"),
    ("ITL", "itl_ms"),
    ("TPOT", "tpot_ms"),
    ("error latency", "error_latency_ms"),
)
_COLUMNS = ("mean", "p50", "p90", "p95", "p99", "p99.9", "max")


def render_summary(summary: Summary) -> RenderableType:
    """The end-of-run report as a Group: counts, latencies, tokens and rates, errors,
    per-action breakdown (when there is more than one action), warnings."""
    parts: list[RenderableType] = []
    # An untrusted run says so before any number (those include the generator's delays).
    if (untrusted := trust_line(summary.to_dict())) is not None:
        parts.append(Text(untrusted, style="bold yellow"))
    parts += [_counts_line(summary), _latency_table(summary.metrics)]
    parts.append(_rates_line(summary))
    if summary.errors_by_kind:
        errors = Table(title="errors by kind", title_justify="left")
        errors.add_column("kind")
        errors.add_column("count", justify="right")
        errors.add_column("share of sent", justify="right")
        for kind, count in summary.errors_by_kind.items():
            share = f"{count / summary.sent:.1%}" if summary.sent else "-"
            errors.add_row(kind, f"{count:,}", share)
        parts.append(errors)
    if len(summary.per_action) > 1:
        actions = Table(title="per action", title_justify="left")
        for name in ("action", "count", "ok", "error", "dropped", "p50", "p99"):
            actions.add_column(name, justify="left" if name == "action" else "right")
        for action, stats in sorted(summary.per_action.items()):
            actions.add_row(
                action,
                f"{stats.count:,}",
                f"{stats.ok:,}",
                f"{stats.error:,}",
                f"{stats.dropped:,}",
                format_duration_ms(stats.latency_p50_ms),
                format_duration_ms(stats.latency_p99_ms),
            )
        parts.append(actions)
    if summary.sessions is not None:
        parts.extend(_sessions_parts(summary.sessions))
    if (jobs := jobs_line(summary.jobs)) is not None:
        parts.append(Text(f"async {jobs}"))
    if summary.thresholds:
        parts.append(thresholds_table(summary.thresholds))
    if summary.goodput is not None:
        parts.extend(Text(line) for line in goodput_lines(summary.goodput.to_dict()))
    if summary.bottleneck is not None:
        parts.extend(Text(line) for line in bottleneck_lines(summary.bottleneck.to_dict()))
    parts.extend(Text(f"warning: {w}", style="yellow") for w in summary.warnings)
    return Group(*parts)


def _sessions_parts(sessions: Mapping[str, Any]) -> list[RenderableType]:
    duration = sessions["duration_ms"]
    line = Text(
        f"sessions: {sessions['count']:,} · succeeded {sessions['succeeded']:,} · failed "
        f"{sessions['failed']:,} ({sessions['success_rate']:.1%} success) · turns mean "
        f"{sessions['turns']['mean']:.1f} · duration p50 {format_duration_ms(duration['p50'])}"
        f" p90 {format_duration_ms(duration['p90'])}"
    )
    table = Table(title="by turn (ok turns)", title_justify="left")
    for name in ("turn", "ok", "latency p50", "latency p99", "TTFT p50", "input tokens"):
        table.add_column(name, justify="right")
    for row in sessions["by_turn"]:
        tokens = row["input_tokens_mean"]
        table.add_row(
            str(row["turn"]),
            f"{row['ok']:,}",
            format_duration_ms(row["latency_p50_ms"]),
            format_duration_ms(row["latency_p99_ms"]),
            format_duration_ms(row["ttft_p50_ms"]),
            "-" if tokens is None else f"{tokens:,.0f}",
        )
    personas = persona_table(sessions)
    return [line, table] if personas is None else [line, table, personas]


def _threshold_value(value: float | None, unit: str) -> str:
    return threshold_value(value, unit)


def thresholds_table(verdicts: Sequence[Verdict]) -> Table:
    """One row per threshold: observed, limit, margin (room on the passing side), verdict."""
    table = Table(title="thresholds", title_justify="left")
    for name in ("threshold", "observed", "margin", "verdict"):
        table.add_column(name, justify="left" if name in ("threshold", "verdict") else "right")
    for v in verdicts:
        if v.ok is None:
            verdict = Text(v.note or "no data", style="yellow")
        else:
            verdict = Text("pass" if v.ok else "FAIL", style="green" if v.ok else "bold red")
            extra = [v.note] if v.note else []
            if v.few_samples:
                extra.append(f"only {v.samples:,} samples")
            if extra:
                verdict.append(f" ({'; '.join(extra)})", style="yellow")
        margin = _threshold_value(v.margin, v.unit)
        if v.margin_relative is not None:
            margin += f" ({v.margin_relative:+.0%})"
        table.add_row(v.expr, _threshold_value(v.observed, v.unit), margin, verdict)
    return table


def _counts_line(summary: Summary) -> Text:
    duration = "-" if summary.duration_s is None else format_duration_ms(summary.duration_s * 1e3)
    return Text(
        f"requests {summary.requests:,} · sent {summary.sent:,} · ok {summary.ok:,} · "
        f"error {summary.error:,} · dropped {summary.dropped:,} · "
        f"cancelled {summary.cancelled:,} · duration {duration}"
        + (f" · slow {summary.slow:,} (over sla)" if summary.slow else "")
    )


def _latency_table(metrics: Mapping[str, MetricStats]) -> Table:
    table = Table(title="latency", title_justify="left")
    table.add_column("metric")
    table.add_column("n", justify="right")
    for column in _COLUMNS:
        table.add_column(column, justify="right")
    for label, key in LATENCY_ROWS:
        stats = metrics.get(key)
        if stats is None or (key == "error_latency_ms" and stats.count == 0):
            continue
        values = (stats.mean, stats.p50, stats.p90, stats.p95, stats.p99, stats.p99_9, stats.max)
        table.add_row(label, f"{stats.count:,}", *(format_duration_ms(v) for v in values))
    return table


def _rates_line(summary: Summary) -> Text:
    def rate(value: float | None) -> str:
        return "-" if value is None else format_rate(value)

    tokens = summary.tokens
    per_request = summary.metrics.get("output_tokens_per_s_per_request")
    decode = ""
    if per_request is not None and per_request.p50 is not None:
        decode = f" · per request p50 {per_request.p50:,.1f} tok/s"
    approx = " (approximate)" if tokens.approximate else ""
    return Text(
        f"rate: target {rate(summary.target_per_s)} · offered {rate(summary.offered_per_s)}"
        f" · achieved {rate(summary.achieved_per_s)}"
        f" · ok {rate(summary.ok_per_s)}\n"
        f"tokens{approx}: in {tokens.input:,} · out {tokens.output:,} "
        f"at {rate(tokens.output_per_s)}{decode}"
    )


def _snapshot(window: RollingWindow, elapsed_s: float) -> WindowSnapshot:
    return window.snapshot(int(elapsed_s * 1e9))


def _clock(elapsed_s: float, remaining_s: float | None) -> str:
    text = f"{format_duration_ms(elapsed_s * 1e3)} elapsed"
    if remaining_s is not None:
        text += f", {format_duration_ms(max(remaining_s, 0.0) * 1e3)} left"
    return text


def _errors_text(errors_by_kind: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in errors_by_kind.items()) or "none"


def render_live(
    window: RollingWindow,
    *,
    elapsed_s: float,
    remaining_s: float | None,
    in_flight: int,
    totals: RunAggregator,
    issued: int | None = None,
) -> RenderableType:
    """A compact table for rich.live.Live; the rolling figures cover the last window."""
    snap = _snapshot(window, elapsed_s)
    achieved = "-" if snap.achieved_per_s is None else format_rate(snap.achieved_per_s)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("time", _clock(elapsed_s, remaining_s))
    due = "" if issued is None else f"due {issued:,} · "
    table.add_row(
        "totals",
        f"{due}done {totals.requests:,} · ok {totals.ok:,} · error {totals.error:,} · "
        f"dropped {totals.dropped:,}",
    )
    table.add_row("in flight", f"{in_flight:,}")
    table.add_row(f"last {window.window_s}s", f"{achieved} completed")
    table.add_row(
        "latency",
        f"p50 {format_duration_ms(snap.latency_p50_ms)} · "
        f"p99 {format_duration_ms(snap.latency_p99_ms)} · "
        f"TTFT p50 {format_duration_ms(snap.ttft_p50_ms)}",
    )
    errors = _errors_text(snap.errors_by_kind)
    table.add_row("errors", Text(errors, style="red" if snap.errors_by_kind else ""))
    return table


def live_line(
    window: RollingWindow,
    *,
    elapsed_s: float,
    remaining_s: float | None,
    in_flight: int,
    totals: RunAggregator,
) -> str:
    """The live view as one plain line, for logs and non-terminal output."""
    snap = _snapshot(window, elapsed_s)
    achieved = "-" if snap.achieved_per_s is None else format_rate(snap.achieved_per_s)
    return (
        f"{_clock(elapsed_s, remaining_s)} | {achieved} | in-flight {in_flight} | "
        f"ok {totals.ok} err {totals.error} dropped {totals.dropped} | "
        f"p50 {format_duration_ms(snap.latency_p50_ms)} "
        f"p99 {format_duration_ms(snap.latency_p99_ms)} "
        f"ttft p50 {format_duration_ms(snap.ttft_p50_ms)} | "
        f"errors {_errors_text(snap.errors_by_kind)}"
    )
