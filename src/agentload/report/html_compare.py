"""The comparison as a self-contained HTML page: the table, the attribution, both runs'
network probes and adaptive-pacing results side by side (when either run has probe.json or
adaptive.json), and side-by-side plots (overlaid percentile spectra, latency over time)."""

from __future__ import annotations

from pathlib import Path

from agentload.analysis.compare import Comparison
from agentload.records.rundir import RunDir
from agentload.report.adaptive import adaptive_compare_html, load_adaptive
from agentload.report.html_charts import Spec, series, spectrum_chart, time_chart
from agentload.report.html_page import chart_slots, esc, page, table
from agentload.report.html_series import RunSeries, run_histograms, series_of
from agentload.report.markdown import attribution_lines, comparison_row
from agentload.report.probe import load_probe, probe_compare_html


def _load(path: Path) -> RunSeries:
    return series_of(RunDir.open(path))[0]


def _padded(values: list[float], n: int) -> list[float]:
    return values + [float("nan")] * (n - len(values))


def compare_charts(base_path: Path, new_path: Path) -> list[Spec]:
    base, new = _load(base_path), _load(new_path)
    n = max(base.seconds, new.seconds)
    hist_b, hist_n = run_histograms(base), run_histograms(new)
    return [
        spectrum_chart(
            "cmp-latency-spectrum",
            "Latency percentile spectrum: base vs new",
            [
                (series("base latency", 9), hist_b["latency_ms"]),
                (series("new latency", 0), hist_n["latency_ms"]),
                (series("base TTFT", 1, dash=True), hist_b["ttft_ms"]),
                (series("new TTFT", 3, dash=True), hist_n["ttft_ms"]),
            ],
        ),
        time_chart(
            "cmp-latency-time",
            "Latency over time: base vs new (p50, p99 per second)",
            "ms",
            [
                (series("base p50", 9, dash=True), _padded(list(base.latency["p50"]), n)),
                (series("base p99", 9), _padded(list(base.latency["p99"]), n)),
                (series("new p50", 0, dash=True), _padded(list(new.latency["p50"]), n)),
                (series("new p99", 0), _padded(list(new.latency["p99"]), n)),
            ],
            primary=3,
        ),
    ]


def render_compare_html(comparison: Comparison, base_path: Path, new_path: Path) -> str:
    rows = [comparison_row(m) for m in comparison.metrics]
    ci = f"{comparison.confidence:.1%} CI of the change"
    headers = ("metric", "base", "new", "change", "relative", ci, "verdict")
    attribution = attribution_lines(comparison)
    charts = compare_charts(base_path, new_path)
    body = "".join(
        [
            table(headers, rows),
            "<h2>Where the change came from</h2>" if attribution else "",
            "<ul>" + "".join(f"<li>{esc(a[2:])}</li>" for a in attribution) + "</ul>"
            if attribution
            else "",
            probe_compare_html(load_probe(base_path), load_probe(new_path)),
            adaptive_compare_html(load_adaptive(base_path), load_adaptive(new_path)),
            f'<section class="charts">{chart_slots(charts)}</section>',
        ]
    )
    regressions = len(comparison.regressions)
    plotted = "" if comparison.base_runs == comparison.new_runs == 1 else " (plots: first run)"
    subtitle = (
        f"base {base_path} · new {new_path}{plotted} · {regressions} significant regression(s)"
    )
    return page(
        f"agentload compare: {comparison.base_name} → {comparison.new_name}", subtitle, body, charts
    )
