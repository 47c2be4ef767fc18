"""``report.html``: one self-contained, offline page per run (see ``html_page`` for the shell).

Built from the run directory alone, in one pass over its records (``html_series``): summary
cards, thresholds (when summary.json has them), plots, and full-data tables (latency,
per action, errors with an example message per kind). ``write_run_html`` is what
``agentload run`` calls at the end of every run and ``agentload report --html`` calls.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agentload.analysis.summary import summarize
from agentload.records.rundir import SUMMARY_FILE, RunDir
from agentload.report import bottleneck_view
from agentload.report.adaptive import adaptive_html, load_adaptive
from agentload.report.html_charts import run_charts
from agentload.report.html_page import card, chart_slots, esc, page, table
from agentload.report.html_series import run_histograms, series_of
from agentload.report.html_tables import sessions_tables
from agentload.report.html_telemetry import run_telemetry_charts
from agentload.report.probe import load_probe, probe_html
from agentload.report.slo_view import THRESHOLD_HEADERS, goodput_lines, threshold_row, trust_line
from agentload.report.terminal import LATENCY_ROWS
from agentload.units import format_duration_ms, format_rate

HTML_FILE: Final = "report.html"
_WIDE: Final = ("latency-time", "rate-time")


def _ms(value: object) -> str:
    return format_duration_ms(value) if isinstance(value, int | float) else "-"


def _rate(value: object) -> str:
    return format_rate(value) if isinstance(value, int | float) else "-"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def render_run_html(path: Path) -> str:
    run_dir = RunDir.open(path)
    meta = run_dir.read_meta()
    series, requests = series_of(run_dir)
    summary = _summary_dict(run_dir, requests, meta)
    target = _number(meta.get("target_rate_per_s"))
    charts = run_charts(series, run_histograms(series), target)
    bottleneck_charts: list[Any] = []  # drawn inside its own section, not the charts grid
    errors_rows = [
        (kind, f"{count:,}", series.error_examples.get(kind, ""))
        for kind, count in summary.get("errors_by_kind", {}).items()
    ]
    body = [
        trust_banner(summary),
        f'<section class="cards">{"".join(cards(summary))}</section>',
        thresholds_html(summary.get("thresholds"), summary.get("goodput")),
        adaptive_html(load_adaptive(path)),  # load.model: adaptive: where it settled
        _warnings_html(summary.get("warnings", [])),
        _bottleneck_html(summary.get("bottleneck"), bottleneck_charts),
        f'<section class="charts">{chart_slots(charts, wide=_WIDE)}</section>',
        "<h2>Latency (all requests, full data)</h2>",
        latency_table(summary.get("metrics", {})),
        "<h2>Per action</h2>",
        _actions_table(summary.get("per_action", {})),
        sessions_tables(summary),  # per persona, per turn (sessions runs only)
    ]
    telemetry_charts = run_telemetry_charts(path)
    if telemetry_charts:
        body.append(f'<h2>Telemetry</h2><section class="charts">{chart_slots(telemetry_charts)}'
                    "</section>")  # fmt: skip
    body.append(probe_html(load_probe(path)))  # agentload probe URL --out RUN_DIR
    if errors_rows:
        body += [
            "<h2>Errors by kind</h2>",
            table(("kind", "count", "example message"), errors_rows, numeric_from=1),
        ]
    status = meta.get("status", "unknown")
    subtitle = (
        f"{meta.get('protocol', '')} → {meta.get('target_url', '')} · "
        f"{meta.get('load_model', '')} model · seed {meta.get('seed', '-')} · "
        f"started {meta.get('started_at', '-')} · status {status} · "
        f"agentload {meta.get('agentload_version', '')}"
    )
    name = str(meta.get("name", path.name))
    all_charts = [*charts, *bottleneck_charts, *telemetry_charts]
    return page(f"agentload report: {name}", subtitle, "".join(body), all_charts)


def _bottleneck_html(bottleneck: object, charts: list[Any]) -> str:
    """The Bottleneck section, its phase-share plot appended to ``charts``."""
    if not isinstance(bottleneck, dict):
        return ""
    chart = bottleneck_view.phase_share_chart(bottleneck)
    if chart is None:
        return bottleneck_view.html_section(bottleneck)
    charts.append(chart)
    slot = chart_slots([chart], wide=(chart["id"],))
    return f'{bottleneck_view.html_section(bottleneck)}<section class="charts">{slot}</section>'


def write_run_html(path: Path, out: Path | None = None) -> Path:
    target = out if out is not None else path / HTML_FILE
    target.write_text(render_run_html(path), encoding="utf-8")
    return target


def _summary_dict(run_dir: RunDir, requests: int, meta: Mapping[str, Any]) -> dict[str, Any]:
    """summary.json when it covers these records (it may carry thresholds), else recomputed
    from the records (a second pass; only for a run directory without a current summary)."""
    try:
        loaded = json.loads((run_dir.path / SUMMARY_FILE).read_text("utf-8"))
        if isinstance(loaded, dict) and loaded.get("counts", {}).get("requests") == requests:
            return loaded
    except (OSError, ValueError):
        pass
    return summarize(
        run_dir.iter_records(),
        target_rate_per_s=_number(meta.get("target_rate_per_s")),
        load_window_s=_number(meta.get("load_window_s")),
    ).to_dict()


def cards(summary: Mapping[str, Any]) -> list[str]:
    counts, rate = summary.get("counts", {}), summary.get("rate", {})
    metrics = summary.get("metrics", {})
    latency, ttft = metrics.get("latency_ms", {}), metrics.get("ttft_ms", {})
    sent = counts.get("sent", 0)
    error_rate = counts.get("error", 0) / sent if sent else None
    target = rate.get("target_per_s")
    out = [
        card(
            "achieved rate",
            _rate(rate.get("achieved_per_s")),
            f"target {_rate(target)}" if target else f"offered {_rate(rate.get('offered_per_s'))}",
        ),
        card("ok rate", _rate(rate.get("ok_per_s")), f"{counts.get('ok', 0):,} ok requests"),
        card("latency p50", _ms(latency.get("p50")), f"mean {_ms(latency.get('mean'))}"),
        card("latency p99", _ms(latency.get("p99")), f"max {_ms(latency.get('max'))}"),
        card("TTFT p50", _ms(ttft.get("p50")), f"p99 {_ms(ttft.get('p99'))}"),
        card(
            "error rate",
            "-" if error_rate is None else f"{error_rate:.2%}",
            f"{counts.get('error', 0):,} errors · {counts.get('dropped', 0):,} dropped",
            "bad" if error_rate else "ok",
        ),
    ]
    if summary.get("trustworthy") is not None:
        trusted = summary.get("trustworthy") is not False
        reasons = [str(r) for r in summary.get("trust_reasons") or () if r]
        out.insert(
            0,
            card(
                "trustworthy",
                "yes" if trusted else "NO",
                "the generator kept its schedule" if trusted else "; ".join(reasons),
                "ok" if trusted else "bad",
            ),
        )
    thresholds = summary.get("thresholds")
    warnings = summary.get("warnings", [])
    if isinstance(thresholds, list) and thresholds:
        failed = sum(1 for t in thresholds if isinstance(t, dict) and _passed(t) is False)
        out.append(
            card(
                "verdict",
                "FAIL" if failed else "PASS",
                f"{failed} of {len(thresholds)} thresholds failed",
                "bad" if failed else "ok",
            )
        )
    else:
        out.append(
            card(
                "verdict",
                f"{len(warnings)} warnings" if warnings else "no warnings",
                "no thresholds set",
                "warn" if warnings else "ok",
            )
        )
    return out


def trust_banner(summary: Mapping[str, Any]) -> str:
    """The first thing on the page of a run that cannot be trusted (empty otherwise): its
    latencies include the generator's own delays, so no number below should be quoted bare."""
    line = trust_line(summary)
    if line is None:
        return ""
    return f'<p class="fail" id="untrusted" role="alert">{esc(line)}</p>'


def _passed(threshold: Mapping[str, Any]) -> bool | None:
    for key in ("passed", "ok", "pass"):
        if isinstance(threshold.get(key), bool):
            return bool(threshold[key])
    verdict = threshold.get("verdict") or threshold.get("status")
    return None if verdict is None else str(verdict).lower() in ("pass", "passed", "ok")


def thresholds_html(thresholds: object, goodput: object = None) -> str:
    """The thresholds as the terminal and Markdown show them (observed, limit, margin,
    verdict in the threshold's unit), then the goodput lines."""
    verdicts = (
        [t for t in thresholds if isinstance(t, dict)] if isinstance(thresholds, list) else []
    )
    lines = goodput_lines(goodput if isinstance(goodput, Mapping) else None)
    if not verdicts and not lines:
        return ""
    body = table(THRESHOLD_HEADERS, [threshold_row(v) for v in verdicts]) if verdicts else ""
    body += "".join(f'<p class="note">{esc(line)}</p>' for line in lines)
    return f"<h2>Thresholds</h2>{body}"


def _warnings_html(warnings: list[str]) -> str:
    if not warnings:
        return ""
    return '<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>"


def latency_table(metrics: Mapping[str, Any]) -> str:
    rows = []
    for label, key in LATENCY_ROWS:
        stats = metrics.get(key)
        if not isinstance(stats, dict) or not stats.get("count"):
            continue
        rows.append(
            [label, f"{stats['count']:,}"]
            + [_ms(stats.get(k)) for k in ("mean", "p50", "p90", "p95", "p99", "p99_9", "max")]
        )
    headers = ("metric", "n", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
    return table(headers, rows) if rows else '<p class="note">No ok requests.</p>'


def _actions_table(per_action: Mapping[str, Any]) -> str:
    rows = [
        [
            name,
            f"{s['count']:,}",
            f"{s['ok']:,}",
            f"{s['error']:,}",
            f"{s['dropped']:,}",
            _ms(s.get("latency_p50_ms")),
            _ms(s.get("latency_p99_ms")),
        ]
        for name, s in sorted(per_action.items())
    ]
    return table(("action", "count", "ok", "error", "dropped", "p50", "p99"), rows)


def write_run_html_safely(path: Path) -> Path | None:
    """``write_run_html`` for the end of a run: a report that cannot be written (disk full,
    a bug) is a warning on stderr, never a reason to lose the run's result."""
    try:
        return write_run_html(path)
    except Exception as exc:
        print(f"warning: {HTML_FILE} not written: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
