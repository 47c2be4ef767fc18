"""Chart specifications (plain dicts, JSON for the page's renderer) built from a run's data.

A spec: ``{"id", "title", "note", "x": "time" | "spectrum" | "log", "yLabel", "yLog",
"series": [{"label", "color", "axis": "y" | "y2", "step"}], "data": [xs, ys1, ...]}``.
NaN becomes null (a gap). ``spectrum`` plots percentiles against ``1 / (1 - q)`` on a log
axis (the HdrHistogram "percentile spectrum"), labelled 50%, 90%, 99%, ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from agentload.analysis.compare_samples import FloatArray
from agentload.metrics.histogram import LatencyHistogram
from agentload.report.html_downsample import lttb_indices
from agentload.report.html_series import RunSeries

MAX_POINTS: Final = 1200
PALETTE: Final = (
    "#2563eb",
    "#f59e0b",
    "#dc2626",
    "#059669",
    "#7c3aed",
    "#db2777",
    "#0891b2",
    "#65a30d",
    "#9a3412",
    "#475569",
)
Spec = dict[str, Any]


def _clean(values: Sequence[float] | FloatArray) -> list[float | None]:
    return [None if v is None or not math.isfinite(v) else round(float(v), 3) for v in values]


def series(label: str, color_index: int, **extra: Any) -> dict[str, Any]:
    return {"label": label, "color": PALETTE[color_index % len(PALETTE)], **extra}


def time_chart(
    chart_id: str,
    title: str,
    y_label: str,
    columns: Sequence[tuple[dict[str, Any], Sequence[float] | FloatArray]],
    *,
    primary: int = 0,
    note: str = "",
) -> Spec:
    """One value per second; thinned with LTTB on column ``primary`` past MAX_POINTS."""
    n = len(columns[0][1]) if columns else 0
    xs = np.arange(n, dtype=np.float64) + 1  # a second's value is plotted at its end
    keep = lttb_indices(xs, np.asarray(columns[primary][1], dtype=np.float64), MAX_POINTS)
    if len(keep) < n:
        note = (note + " " if note else "") + f"Downsampled (LTTB) from {n} to {len(keep)} points."
    data = [_clean(xs[keep])] + [_clean(np.asarray(v, dtype=np.float64)[keep]) for _, v in columns]
    return {
        "id": chart_id,
        "title": title,
        "x": "time",
        "yLabel": y_label,
        "yLog": False,
        "series": [s for s, _ in columns],
        "data": data,
        "note": note,
    }


def spectrum_levels(max_count: int) -> FloatArray:
    """Percentile levels evenly spaced on the spectrum axis, up to the run's resolution."""
    nines = min(5.0, math.log10(max(max_count, 10)))
    return 100 * (1 - 10 ** -np.linspace(0, nines, 160))


def spectrum_chart(
    chart_id: str, title: str, histograms: Sequence[tuple[dict[str, Any], LatencyHistogram]]
) -> Spec:
    present = [(s, h) for s, h in histograms if h.count]
    levels = spectrum_levels(max((h.count for _, h in present), default=10))
    data: list[list[float | None]] = [_clean(100 / (100 - levels))]
    for _, histogram in present:
        limit = 100 * (1 - 1 / histogram.count) if histogram.count > 1 else 50.0
        values = histogram.percentiles_ms([float(min(q, 100.0)) for q in levels])
        data.append(
            [
                v if q <= limit + 1e-9 else None
                for q, v in zip(
                    levels, _clean([math.nan if v is None else v for v in values]), strict=True
                )
            ]
        )
    return {
        "id": chart_id,
        "title": title,
        "x": "spectrum",
        "yLabel": "ms",
        "yLog": True,
        "series": [s for s, _ in present],
        "data": data,
        "note": "Percentile (x, log scale) against value (y, log scale); full data.",
    }


def histogram_chart(
    chart_id: str, title: str, samples: Sequence[tuple[dict[str, Any], FloatArray]]
) -> Spec:
    """Share of samples (%) in log-spaced bins shared by all series."""
    present = [(s, v[v > 0]) for s, v in samples if np.any(v > 0)]
    if not present:
        return {
            "id": chart_id,
            "title": title,
            "x": "log",
            "yLabel": "% of samples",
            "yLog": False,
            "series": [],
            "data": [[]],
            "note": "No samples.",
        }
    low = min(float(v.min()) for _, v in present)
    high = max(float(v.max()) for _, v in present)
    edges = np.geomspace(low, high * 1.0001 if high > low else low * 2, 61)
    centres = np.sqrt(edges[:-1] * edges[1:])
    data: list[list[float | None]] = [_clean(centres)]
    for _, values in present:
        counts, _ = np.histogram(values, bins=edges)
        data.append(_clean(100 * counts / len(values)))
    return {
        "id": chart_id,
        "title": title,
        "x": "log",
        "yLabel": "% of samples",
        "yLog": False,
        "series": [{**s, "step": True} for s, _ in present],
        "data": data,
        "note": "",
    }


def run_charts(
    run: RunSeries, hists: dict[str, LatencyHistogram], target: float | None
) -> list[Spec]:
    lat = run.latency
    charts = [
        time_chart(
            "latency-time",
            "Latency over time (ok requests, per second)",
            "ms",
            [
                (series("p50", 0), lat["p50"]),
                (series("p90", 1), lat["p90"]),
                (series("p99", 2), lat["p99"]),
                (series("max", 9, dash=True), lat["max"]),
            ],
            primary=2,
        ),
        spectrum_chart(
            "latency-spectrum",
            "Latency percentile spectrum",
            [
                (series("latency", 0), hists["latency_ms"]),
                (series("service time", 3), hists["service_ms"]),
                (series("TTFT", 1), hists["ttft_ms"]),
                (series("ITL", 4), hists["itl_ms"]),
            ],
        ),
        histogram_chart(
            "latency-histogram",
            "Latency histogram (ok requests)",
            [(series("latency", 0), run.latency_samples_ms)],
        ),
        histogram_chart(
            "ttft-itl",
            "TTFT and inter-token latency distributions",
            [(series("TTFT", 1), run.ttft_samples_ms), (series("ITL", 4), run.itl_samples_ms)],
        ),
    ]
    rate_columns = [
        (series("due", 9, dash=True), [float(v) for v in run.due]),
        (series("sent", 0), [float(v) for v in run.sent]),
        (series("ok", 3), [float(v) for v in run.ok]),
        (series("in flight", 1, axis="y2"), [float(v) for v in run.in_flight]),
    ]
    if target is not None:
        rate_columns.insert(0, (series("target", 2, dash=True), [target] * run.seconds))
    charts.append(
        time_chart(
            "rate-time",
            "Achieved vs target rate, and in flight",
            "requests / s",
            rate_columns,
            primary=len(rate_columns) - 3,
        )
    )
    error_columns = [
        (
            series("all errors", 2),
            [float(sum(v)) for v in zip(*run.errors_by_kind.values(), strict=True)]
            or [0.0] * run.seconds,
        )
    ]
    error_columns += [
        (series(k, i + 3), [float(x) for x in v])
        for i, (k, v) in enumerate(run.errors_by_kind.items())
    ]
    charts.append(
        time_chart("errors-time", "Errors over time, by kind", "errors / s", error_columns)
    )
    charts.append(
        time_chart(
            "lag-time",
            "Schedule lag over time (send minus intended start)",
            "ms",
            [
                (series("p50", 0), run.lag["p50"]),
                (series("p99", 2), run.lag["p99"]),
                (series("max", 9, dash=True), run.lag["max"]),
            ],
            primary=1,
        )
    )
    return charts
