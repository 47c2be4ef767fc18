"""Per-second series of a run for the HTML report, gathered in one pass over its records.

Counts (due, sent, ok, errors by kind, in flight) are exact per second. Latency-like values
are kept as time-stamped samples thinned past a cap (as ``Thinned``: evenly spread, so
per-second percentiles stay unbiased on very long runs), and per-second percentiles are
computed from them with one sort. Distributions over the whole run are HDR histograms filled
from the same samples in one vectorised step (every sample up to the cap; the run's
aggregator is not replayed).

The records arrive as columns (``records.columns``), a block at a time, and every step is a
numpy operation over the block: reading a run directory back costs well under a microsecond
per record (``series_of``), which matters because ``agentload run`` writes this report after
every run. Times are seconds on the run clock (0 = run start).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agentload.analysis.compare_samples import SAMPLE_CAP, FloatArray
from agentload.metrics.aggregate import UNKNOWN_ERROR_KIND
from agentload.metrics.histogram import LatencyHistogram
from agentload.records.columns import NO_TIME, OK, RecordColumns, columns_of, iter_columns
from agentload.records.record import RequestRecord
from agentload.records.rundir import RunDir
from agentload.report.html_columns import IntArray, SecondCounts, ThinnedRows

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
    """Feed records (``add``, ``add_all``) or blocks of columns (``add_columns``), in the
    run's record order, then ``build`` once."""

    def __init__(self, cap: int = SAMPLE_CAP) -> None:
        self.requests = 0
        self._due = SecondCounts()
        self._sent = SecondCounts()
        self._ok = SecondCounts()
        self._ended = SecondCounts()
        self._errors: dict[str, SecondCounts] = {}
        self._examples: dict[str, str] = {}
        self._rows = ThinnedRows(4, cap)  # (done second, latency ms, ttft ms | nan, service ms)
        self._lags = ThinnedRows(2, cap)  # (send second, lag ms)
        self._itl = ThinnedRows(1, cap)
        self._last_s = 0
        self._pending: list[RequestRecord] = []  # records given one by one, not yet folded

    def add(self, record: RequestRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= 4096:
            self._fold_pending()

    def add_all(self, records: Iterable[RequestRecord]) -> SeriesBuilder:
        for record in records:
            self.add(record)
        return self

    def _fold_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.add_columns(columns_of(pending))

    def add_columns(self, columns: RecordColumns) -> SeriesBuilder:
        self._fold_pending()  # keeps the record order
        if not len(columns):
            return self
        self.requests += len(columns)
        intended_at, done_at = columns.intended_at, columns.done_at
        due_s = intended_at // _NS_PER_S
        done_s = done_at // _NS_PER_S
        self._last_s = max(self._last_s, int(done_s.max()), int(due_s.max()))
        self._due.add(due_s)
        sent = columns.sent_at != NO_TIME
        sent_at = columns.sent_at[sent]
        sent_s = sent_at // _NS_PER_S
        self._sent.add(sent_s)
        self._ended.add(done_s[sent])
        self._lags.add(sent_s, (sent_at - intended_at[sent]) / 1e6)
        ok = columns.outcome == OK
        self._ok.add(done_s[ok])
        measured = ok & sent  # an ok record has a latency when it was sent
        latency = (done_at[measured] - intended_at[measured]) / 1e6
        first_token_at = columns.first_token_at[measured]
        ttft = np.full(len(latency), np.nan)
        has_token = first_token_at != NO_TIME
        ttft[has_token] = (first_token_at[has_token] - intended_at[measured][has_token]) / 1e6
        service = (done_at[measured] - columns.sent_at[measured]) / 1e6
        self._rows.add(done_s[measured], latency, ttft, service)
        gaps = [gap for row, row_gaps in columns.itl_ms if ok[row] for gap in row_gaps]
        if gaps:
            self._itl.add(np.array(gaps, dtype=np.float64))
        if columns.errors:
            self._add_errors(columns, done_s)
        return self

    def _add_errors(self, columns: RecordColumns, done_s: IntArray) -> None:
        rows = np.array([row for row, _, _ in columns.errors], dtype=np.int64)
        kinds = [str(kind) if kind else UNKNOWN_ERROR_KIND for _, kind, _ in columns.errors]
        by_kind = np.array(kinds, dtype=object)
        for kind in dict.fromkeys(kinds):
            self._errors.setdefault(kind, SecondCounts()).add(done_s[rows[by_kind == kind]])
        for kind, (_, _, message) in zip(kinds, columns.errors, strict=True):
            if kind not in self._examples and message:
                self._examples[kind] = message[:MESSAGE_EXAMPLE_CHARS]

    def build(self) -> RunSeries:
        self._fold_pending()
        n = self._last_s + 1 if self.requests else 0
        rows = self._rows.array()
        lags = self._lags.array()
        sent = self._sent.dense(n)
        started = np.cumsum(np.array(sent, dtype=np.int64))
        ended = np.cumsum(np.array(self._ended.dense(n), dtype=np.int64))
        latency_p = per_second_percentiles(rows[:, 0], rows[:, 1], n, (50, 90, 99, 100))
        lag_p = per_second_percentiles(lags[:, 0], lags[:, 1], n, (50, 99, 100))
        ttft = rows[:, 2]
        return RunSeries(
            seconds=n,
            due=self._due.dense(n),
            sent=sent,
            ok=self._ok.dense(n),
            in_flight=[int(v) for v in started - ended],
            errors_by_kind={k: v.dense(n) for k, v in sorted(self._errors.items())},
            latency=dict(zip(("p50", "p90", "p99", "max"), latency_p, strict=True)),
            lag=dict(zip(("p50", "p99", "max"), lag_p, strict=True)),
            latency_samples_ms=rows[:, 1],
            ttft_samples_ms=ttft[~np.isnan(ttft)],
            itl_samples_ms=self._itl.array()[:, 0],
            service_samples_ms=rows[:, 3],
            error_examples=dict(self._examples),
        )


def series_of(run_dir: RunDir) -> tuple[RunSeries, int]:
    """The series of a run directory's records, and how many records it read."""
    builder = SeriesBuilder()
    for columns in iter_columns(run_dir):
        builder.add_columns(columns)
    return builder.build(), builder.requests


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
    """``record_many_ms(values)``, with the check and the copy done by numpy rather than per
    value (the same doubles reach the same buffer, so the histogram is the same)."""
    histogram = LatencyHistogram()
    if len(values):
        if not np.isfinite(values).all():
            raise ValueError("cannot record non-finite values")
        histogram.pending_ms.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        histogram.fold_if_full()
    return histogram


def run_histograms(run: RunSeries) -> dict[str, LatencyHistogram]:
    return {
        "latency_ms": histogram_of(run.latency_samples_ms),
        "service_ms": histogram_of(run.service_samples_ms),
        "ttft_ms": histogram_of(run.ttft_samples_ms),
        "itl_ms": histogram_of(run.itl_samples_ms),
    }
