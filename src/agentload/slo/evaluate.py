"""Judge thresholds against an SloAggregator: one ``Verdict`` per threshold.

Observed values, by kind of threshold:

- duration: the aggregate of the series' histogram (percentiles nearest-rank, as the summary).
- run-level (generator telemetry, ``trustworthy``): ``agentload.slo.run_level``, from the
  ``RunFacts`` given once the run has ended; before that, no data ("judged when the run ends").
- ``error_rate`` = errors / sent (``{error_kind=K}``: errors of kind K / sent; ``timeout``
  counts every ``*_timeout`` kind);
  ``dropped_rate`` = dropped / requests; ``rate(X)`` = count of X / ``duration_s``;
  ``count(X)`` = count of X (``requests`` counts every record that came due).

``ok`` is None and ``no_data`` true — neither pass nor fail, and not a failure for the exit
code — when there is nothing to judge (no samples, no requests, no duration for a rate) or
a filter names a field the records do not carry; ``note``
says which, and the terminal report shows it.
``margin`` is the distance from the limit on the passing side, in the threshold's unit
(positive: passed with that much room; negative: failed by that much); ``margin_relative``
is margin / limit. ``few_samples``: a percentile pN with fewer than 100 / (100 - N) samples
(the rule of agentload.analysis.validity), or a ratio bounded above by L with fewer than 1 / L
requests (a single event would cross it): the verdict stands but is weak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agentload.slo.aggregate import UNAVAILABLE_KEYS, Series, SloAggregator, record_filters
from agentload.slo.grammar import Threshold
from agentload.slo.run_level import RunFacts, observe
from agentload.slo.threshold import error_kinds

UNITS = {
    "duration": "ms",
    "ratio": "fraction",
    "rate": "per_s",
    "count": "requests",
    "cpu": "percent",
    "loop_lag": "ms",
    "flag": "bool",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    expr: str
    ok: bool | None
    observed: float | None
    limit: float
    unit: str
    margin: float | None
    margin_relative: float | None
    samples: int
    no_data: bool
    few_samples: bool
    note: str | None = None
    abort_on_fail: bool = False
    aborted_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def min_samples(percentile: float) -> int:
    """Samples a percentile needs for one to lie above it: ceil(100 / (100 - p))."""
    if percentile >= 100:
        return 1
    return max(1, math.ceil(round(100 / (100 - percentile), 9)))


def evaluate(
    threshold: Threshold,
    aggregator: SloAggregator,
    duration_s: float | None,
    *,
    abort_on_fail: bool = False,
    run: RunFacts | None = None,
) -> Verdict:
    """One verdict; ``duration_s`` divides counts for ``rate(...)`` thresholds; ``run``
    (known once the run has ended) answers the run-level ones."""
    unavailable = _unavailable(threshold)
    if unavailable:
        return _empty(threshold, unavailable, abort_on_fail)
    note = None
    if threshold.run_level:
        observed, samples, note = observe(threshold, run)
        if observed is None:
            return _empty(threshold, note or "no data", abort_on_fail)
    elif threshold.metric == "session_success_rate":
        observed, samples = _session_success(aggregator)
    else:
        observed, samples = _observe(threshold, aggregator.series_for(threshold), duration_s)
    if observed is None:
        return _empty(threshold, "no data", abort_on_fail)
    margin: float | None = None  # a flag has no distance to its limit
    if threshold.op in ("<", "<="):
        margin = threshold.limit - observed
    elif threshold.op in (">", ">="):
        margin = observed - threshold.limit
    return Verdict(
        expr=str(threshold),
        ok=threshold.passes(observed),
        observed=observed,
        limit=threshold.limit,
        unit=UNITS[threshold.kind],
        margin=margin,
        margin_relative=margin / threshold.limit
        if margin is not None and threshold.limit
        else None,
        samples=samples,
        no_data=False,
        few_samples=_few(threshold, samples),
        note=note,
        abort_on_fail=abort_on_fail,
    )


def _observe(
    threshold: Threshold, series: Series, duration_s: float | None
) -> tuple[float | None, int]:
    kind = threshold.kind
    if kind == "duration":
        histogram = series.histograms[threshold.metric]
        n = histogram.count
        aggregate = threshold.aggregate
        if aggregate == "avg":
            return histogram.mean_ms, n
        if aggregate == "min":
            return histogram.min_ms, n
        if aggregate == "max":
            return histogram.max_ms, n
        return histogram.percentile_ms(float(aggregate[1:])), n
    if kind == "ratio":
        if threshold.metric == "dropped_rate":
            n = series.requests
            return (series.dropped / n if n else None), n
        n = series.sent
        return (_errors(threshold, series) / n if n else None), n
    count = _count(threshold, series)
    if kind == "count":
        return float(count), series.requests
    if not duration_s or duration_s <= 0:
        return None, series.requests
    return count / duration_s, series.requests


def _errors(threshold: Threshold, series: Series) -> int:
    kind = threshold.filter("error_kind")
    if kind is None:
        return series.error
    return sum(series.errors_by_kind.get(k, 0) for k in error_kinds(kind))


def _count(threshold: Threshold, series: Series) -> int:
    if threshold.metric == "error":
        return _errors(threshold, series)
    return {"requests": series.requests, "ok": series.ok, "dropped": series.dropped}[
        threshold.metric
    ]


def _session_success(aggregator: SloAggregator) -> tuple[float | None, int]:
    """Share of sessions whose every turn succeeded; none in the run: no data."""
    data = None if aggregator.sessions is None else aggregator.sessions.to_dict()
    if data is None:
        return None, 0
    count = data["count"]
    assert isinstance(count, int)
    return float(data["success_rate"]), count  # type: ignore[arg-type]


def _unavailable(threshold: Threshold) -> str | None:
    missing = [k for k, _ in record_filters(threshold) if k in UNAVAILABLE_KEYS]
    if missing:
        return f"not available: records do not carry {', '.join(missing)} yet"
    return None


def _few(threshold: Threshold, samples: int) -> bool:
    percentile = threshold.percentile
    if percentile is not None:
        return samples < min_samples(percentile)
    if threshold.kind == "ratio" and threshold.op in ("<", "<=") and threshold.limit > 0:
        return samples < math.ceil(round(1 / threshold.limit, 9))
    return False


def _empty(threshold: Threshold, note: str, abort_on_fail: bool) -> Verdict:
    return Verdict(
        expr=str(threshold),
        ok=None,
        observed=None,
        limit=threshold.limit,
        unit=UNITS[threshold.kind],
        margin=None,
        margin_relative=None,
        samples=0,
        no_data=True,
        few_samples=False,
        note=note,
        abort_on_fail=abort_on_fail,
    )
