"""What thresholds need, folded record by record in fixed memory: ``SloAggregator``.

One ``Series`` per distinct filter set (action / turn / persona) that some record-level
threshold names (run-level ones, ``agentload.slo.run_level``, need no records),
with outcome counts, errors by kind, and one LatencyHistogram per duration metric that a
threshold on that filter set references. Populations match ``agentload.metrics.aggregate``:
duration metrics cover ok records, schedule_lag every sent record, itl every gap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from agentload.metrics.histogram import LatencyHistogram
from agentload.metrics.sessions import SessionAggregator
from agentload.records.record import Outcome, RequestRecord
from agentload.slo.grammar import DURATION_METRICS, Threshold

RECORD_FILTER_KEYS = ("action", "turn", "persona")
# Filters on a field that RequestRecord does not carry yet match nothing, and say so.
UNAVAILABLE_KEYS = frozenset(
    k for k in RECORD_FILTER_KEYS if k not in RequestRecord.__struct_fields__
)

FilterSet = tuple[tuple[str, str], ...]


def record_filters(threshold: Threshold) -> FilterSet:
    """The filters that select records (error_kind selects among errors, not records)."""
    return tuple((k, v) for k, v in threshold.filters if k != "error_kind")


def metric_values(metric: str, record: RequestRecord) -> Sequence[float]:
    """A record's values of a duration metric (the population rules in the docstring)."""
    if metric == "schedule_lag":
        lag = record.schedule_lag_ms
        return () if lag is None else (lag,)
    if record.outcome != Outcome.OK:
        return ()
    if metric == "itl":
        return record.itl_ms
    value = {
        "latency": record.latency_ms,
        "service": record.service_ms,
        "ttft": record.ttft_ms,
        "ttfb": record.ttfb_ms,
        "tpot": record.tpot_ms,
    }[metric]
    return () if value is None else (value,)


class Series:
    """Counts and histograms of the records one filter set selects."""

    __slots__ = ("_match", "cancelled", "dropped", "error", "errors_by_kind", "histograms", "ok")

    def __init__(self, filters: FilterSet, metrics: Iterable[str]) -> None:
        self._match = tuple((k, int(v) if k == "turn" else v) for k, v in filters)
        self.ok = 0
        self.error = 0
        self.dropped = 0
        self.cancelled = 0
        self.errors_by_kind: Counter[str] = Counter()
        self.histograms = {m: LatencyHistogram() for m in metrics}

    @property
    def requests(self) -> int:
        return self.ok + self.error + self.dropped + self.cancelled

    @property
    def sent(self) -> int:
        return self.requests - self.dropped

    def matches(self, record: RequestRecord) -> bool:
        for key, value in self._match:
            if key in UNAVAILABLE_KEYS or getattr(record, key) != value:
                return False
        return True

    def add(self, record: RequestRecord) -> None:
        outcome = record.outcome
        if outcome == Outcome.OK:
            self.ok += 1
        elif outcome == Outcome.ERROR:
            self.error += 1
            self.errors_by_kind[str(record.error_kind) if record.error_kind else "unknown"] += 1
        elif outcome == Outcome.DROPPED:
            self.dropped += 1
        else:
            self.cancelled += 1
        for metric, histogram in self.histograms.items():
            values = metric_values(metric, record)
            if len(values) == 1:
                histogram.record_ms(values[0])
            elif values:
                histogram.record_many_ms(values)


class SloAggregator:
    """A record sink (``add``) keeping exactly the series the given thresholds reference."""

    def __init__(self, thresholds: Iterable[Threshold]) -> None:
        wanted: dict[FilterSet, set[str]] = {}
        thresholds_list = list(thresholds)
        for threshold in thresholds_list:
            if threshold.run_level:  # judged from telemetry and the summary, not records
                continue
            metrics = wanted.setdefault(record_filters(threshold), set())
            if threshold.metric in DURATION_METRICS:
                metrics.add(threshold.metric)
        self.series = {f: Series(f, sorted(m)) for f, m in wanted.items()}
        self._all = self.series.get(())
        self._filtered = [s for f, s in self.series.items() if f]
        # Only when a threshold asks: per-session state costs memory per session.
        wants_sessions = any(t.metric == "session_success_rate" for t in thresholds_list)
        self.sessions = SessionAggregator() if wants_sessions else None

    def add(self, record: RequestRecord) -> None:
        if self.sessions is not None and record.session_id is not None:
            self.sessions.add(record)
        if self._all is not None:
            self._all.add(record)
        for series in self._filtered:
            if series.matches(record):
                series.add(record)

    def series_for(self, threshold: Threshold) -> Series:
        return self.series[record_filters(threshold)]
