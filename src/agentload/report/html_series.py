"""Per-second series of a run for the HTML report, gathered in one pass over its records.

Counts (due, sent, ok, errors by kind, in flight) are exact per second. Latency-like values
are kept as time-stamped samples thinned past a cap (``Thinned``: evenly spread, so per-second
percentiles stay unbiased on very long runs), and per-second percentiles are computed from
them with one sort. Distributions over the whole run are HDR histograms filled from the same
samples in one vectorised step (every sample up to the cap; the run's aggregator is not
replayed, which keeps 100k records near half a second).
Times are seconds on the run clock (0 = run start).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agentload.analysis.compare_samples import SAMPLE_CAP, FloatArray, Thinned
from agentload.metrics.aggregate import UNKNOWN_ERROR_KIND
from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import Outcome, RequestRecord

_NS_PER_S = 1_000_000_000
MESSAGE_EXAMPLE_CHARS = 300


@dataclass
class RunSeries:
    seconds: int  # series length: one value per second 0..seconds-1
    due: list[int]
    sent: list[int]
    ok: list[int]
    in_flight: list[int]  # requests in flight at the end of each second
    errors_by_kind: dict[str, list[int]]
    latency: dict[str, FloatArray]  # p50/p90/p99 of ok latency, by completion second
    lag: dict[str, FloatArray]  # p50/p99/max of schedule lag, by send second
    latency_samples_ms: FloatArray
    ttft_samples_ms: FloatArray
    itl_samples_ms: FloatArray
    service_samples_ms: FloatArray
    error_examples: dict[str, str] = field(default_factory=dict)  # first message per kind


class SeriesBuilder:
    """Feed records with ``add``, then ``build`` once."""

    def __init__(self, cap: int = SAMPLE_CAP) -> None:
        self.requests = 0
        self._due: Counter[int] = Counter()
        self._sent: Counter[int] = Counter()
        self._ok: Counter[int] = Counter()
        self._ended: Counter[int] = Counter()
        self._errors: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._examples: dict[str, str] = {}
        self._rows = Thinned(cap)  # (done second, latency ms, ttft ms | nan, service ms)
        self._lags = Thinned(cap)  # (send second, lag ms)
        self._itl = Thinned(cap)
        self._last_s = 0

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        due_s = record.intended_at // _NS_PER_S
        done_s = record.done_at // _NS_PER_S
        self._last_s = max(self._last_s, done_s, due_s)
        self._due[due_s] += 1
        if record.sent_at is not None:
            sent_s = record.sent_at // _NS_PER_S
            self._sent[sent_s] += 1
            self._ended[done_s] += 1
            self._lags.add((sent_s, (record.sent_at - record.intended_at) / 1e6))
        if record.outcome == Outcome.OK:
            self._ok[done_s] += 1
            latency = record.latency_ms
            if latency is not None:
                ttft = record.ttft_ms
                service = record.service_ms
                self._rows.add((done_s, latency, math.nan if ttft is None else ttft, service))
            for gap in record.itl_ms:
                self._itl.add(gap)
        elif record.outcome == Outcome.ERROR:
            kind = str(record.error_kind) if record.error_kind else UNKNOWN_ERROR_KIND
            self._errors[kind][done_s] += 1
            if kind not in self._examples and record.error_message:
                self._examples[kind] = record.error_message[:MESSAGE_EXAMPLE_CHARS]

    def add_all(self, records: Iterable[RequestRecord]) -> SeriesBuilder:
        for record in records:
            self.add(record)
        return self

    def build(self) -> RunSeries:
        n = self._last_s + 1 if self.requests else 0
        rows = np.array(self._rows.rows, dtype=np.float64).reshape(-1, 4)
        lags = np.array(self._lags.rows, dtype=np.float64).reshape(-1, 2)
        started = np.cumsum(_dense(self._sent, n))
        ended = np.cumsum(_dense(self._ended, n))
        latency_p = per_second_percentiles(rows[:, 0], rows[:, 1], n, (50, 90, 99, 100))
        lag_p = per_second_percentiles(lags[:, 0], lags[:, 1], n, (50, 99, 100))
        ttft = rows[:, 2]
        return RunSeries(
            seconds=n,
            due=_dense(self._due, n),
            sent=_dense(self._sent, n),
            ok=_dense(self._ok, n),
            in_flight=[int(v) for v in started - ended],
            errors_by_kind={k: _dense(v, n) for k, v in sorted(self._errors.items())},
            latency=dict(zip(("p50", "p90", "p99", "max"), latency_p, strict=True)),
            lag=dict(zip(("p50", "p99", "max"), lag_p, strict=True)),
            latency_samples_ms=rows[:, 1],
            ttft_samples_ms=ttft[~np.isnan(ttft)],
            itl_samples_ms=np.array(self._itl.rows, dtype=np.float64),
            service_samples_ms=rows[:, 3],
            error_examples=dict(self._examples),
        )


def _dense(counts: Counter[int], n: int) -> list[int]:
    out = [0] * n
    for second, count in counts.items():
        if 0 <= second < n:
            out[second] += count
    return out


def per_second_percentiles(
    seconds: FloatArray, values: FloatArray, n: int, ps: Sequence[float]
) -> list[FloatArray]:
    """Nearest-rank percentiles of ``values`` grouped by integer ``seconds`` (NaN if empty)."""
    out = [np.full(n, np.nan) for _ in ps]
    if len(values) == 0 or n == 0:
        return out
    sec = np.clip(seconds.astype(np.int64), 0, n - 1)
    order = np.lexsort((values, sec))
    ordered = values[order]
    counts = np.bincount(sec, minlength=n)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    for series, p in zip(out, ps, strict=True):
        rank = np.maximum(np.ceil(p / 100 * counts), 1).astype(np.int64)
        series[has] = ordered[(starts + rank - 1)[has]]
    return out


def histogram_of(values: FloatArray) -> LatencyHistogram:
    histogram = LatencyHistogram()
    if len(values):
        histogram.record_many_ms(values)  # type: ignore[arg-type]
    return histogram


def run_histograms(run: RunSeries) -> dict[str, LatencyHistogram]:
    return {
        "latency_ms": histogram_of(run.latency_samples_ms),
        "service_ms": histogram_of(run.service_samples_ms),
        "ttft_ms": histogram_of(run.ttft_samples_ms),
        "itl_ms": histogram_of(run.itl_samples_ms),
    }
