"""One capacity step judged from its records: each threshold with a confidence, saturation.

Only records whose intended start lies in the measurement window ``[start_ns, end_ns)`` count
(the warm-up before it is excluded). Each threshold gets a confidence from the bootstrap
distribution of its statistic, computed exactly rather than by resampling (so it is
deterministic and free of resampling noise): ``confidence_pass`` is the bootstrap probability
that the statistic lies on the passing side of the limit, ``confidence_fail`` the other side.

- percentile ``pQ(metric)`` (nearest rank r of n): a resample's pQ lies below L exactly when
  at least r of its n draws do, and the number that do is Binomial(n, m/n) for m of the n
  samples below L.
- ratio (``error_rate``, ``dropped_rate``, ``session_success_rate``): the resampled count of
  k in n is Binomial(n, k/n).
- ``rate(X)``: the resampled count is Poisson(count).
- ``avg(metric)``: the mean's normal approximation (what the bootstrap of a mean tends to).
- ``min``, ``max``, ``count``: taken as exact, confidence 1 on the observed side.

A bootstrap of few samples is optimistic at extreme percentiles (8 samples all below L give
a confident p99); the search repeats only the uncertain steps, and the steps near the
boundary are the ones with the most samples (docs/capacity.md).

The step ``passes`` when every judged threshold passes with at least ``level``, ``fails``
when one fails with at least ``level``, and is ``uncertain`` otherwise (its ``lean`` is the
point estimate). In-flight requests cut off at the end count with the latency they had
reached (a lower bound), so an overloaded step cannot look fast by losing its slowest answers.

Saturation (the target cannot keep up, whatever the thresholds say): more than 1% of the
window's requests dropped at the in-flight cap, a throughput (requests finished within the
window) under 90% of the offered rate (requests due in it), or at least half of the sent
ones failed. A backlog growing without bound shows as the throughput falling behind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agentload.analysis.capacity_tails import (
    binom_cdf,
    binom_sf,
    normal_cdf,
    poisson_cdf,
    poisson_sf,
)
from agentload.records.record import Outcome, RequestRecord
from agentload.slo.aggregate import Series, SloAggregator, metric_values, record_filters
from agentload.slo.evaluate import evaluate
from agentload.slo.grammar import Threshold

Verdict = Literal["pass", "fail", "uncertain"]

DROPPED_LIMIT = 0.01
COMPLETED_LIMIT = 0.9
ERROR_LIMIT = 0.5


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold at one step."""

    expr: str
    observed: float | None
    limit: float
    samples: int
    confidence_pass: float  # 0..1; 0 and 0 when there is no data
    confidence_fail: float

    def verdict(self, level: float) -> Verdict | None:
        if self.observed is None:
            return None
        if self.confidence_pass >= level:
            return "pass"
        if self.confidence_fail >= level:
            return "fail"
        return "uncertain"

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class StepStats:
    window_s: float
    requests: int  # came due in the window
    ok: int
    errors: int
    dropped: int
    completed_per_s: float  # ok or error, finished within the window (throughput)
    offered_per_s: float  # came due in the window, per second
    p50_ms: float | None  # latency of ok requests
    p99_ms: float | None
    checks: tuple[Check, ...]
    saturation: str | None  # why the target could not keep up, or None

    @property
    def error_rate(self) -> float:
        sent = self.requests - self.dropped
        return self.errors / sent if sent else 0.0

    def verdict(self, level: float) -> Verdict:
        if self.saturation is not None or self.ok == 0:
            return "fail"
        verdicts = [c.verdict(level) for c in self.checks]
        if "fail" in verdicts:
            return "fail"
        if all(v in ("pass", None) for v in verdicts):
            return "pass"
        return "uncertain"

    def lean(self) -> Literal["pass", "fail"]:
        """The point estimate: would the thresholds pass on these records as they are?"""
        if self.saturation is not None or self.ok == 0:
            return "fail"
        ok = all(c.confidence_pass >= c.confidence_fail for c in self.checks if c.observed)
        return "pass" if ok else "fail"

    def confidence(self, level: float) -> float:
        """How sure the step's call is: the weakest pass, or the strongest fail."""
        if self.saturation is not None or self.ok == 0:
            return 1.0
        judged = [c for c in self.checks if c.observed is not None]
        if not judged:
            return 0.0
        fails = [c.confidence_fail for c in judged]
        if self.lean() == "fail" or max(fails) >= level:
            return max(fails)
        return min(c.confidence_pass for c in judged)

    def first_failing(self) -> Check | None:
        judged = [c for c in self.checks if c.observed is not None]
        failing = [c for c in judged if c.confidence_fail > c.confidence_pass]
        return max(failing, key=lambda c: c.confidence_fail, default=None)

    def to_dict(self, level: float) -> dict[str, Any]:
        return {
            "window_s": self.window_s,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "dropped": self.dropped,
            "error_rate": self.error_rate,
            "offered_per_s": self.offered_per_s,
            "completed_per_s": self.completed_per_s,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "verdict": self.verdict(level),
            "lean": self.lean(),
            "confidence": self.confidence(level),
            "saturation": self.saturation,
            "checks": [c.to_dict() for c in self.checks],
        }


def step_stats(
    records: Iterable[RequestRecord],
    thresholds: Sequence[Threshold],
    *,
    start_ns: int,
    end_ns: int,
    runs: int = 1,
) -> StepStats:
    """Judge the records of one step; ``runs`` runs at the same value may be chained (each
    on its own clock, with the same window), and pool into ``runs`` times the window."""
    window_s = runs * (end_ns - start_ns) / 1e9
    aggregator = SloAggregator(thresholds)
    # Raw values of the duration thresholds, for their exact tests.
    series = [Series(record_filters(t), ()) for t in thresholds]
    values: list[list[float]] = [[] for _ in thresholds]
    latencies: list[float] = []
    requests = ok = errors = dropped = completed = 0
    for record in records:
        outcome = record.outcome
        if outcome in (Outcome.OK, Outcome.ERROR) and start_ns <= record.done_at < end_ns:
            completed += 1  # throughput: whenever it was due, it finished in the window
        if not start_ns <= record.intended_at < end_ns:
            continue
        requests += 1
        aggregator.add(record)
        if outcome == Outcome.OK:
            ok += 1
            if record.latency_ms is not None:
                latencies.append(record.latency_ms)
        elif outcome == Outcome.ERROR:
            errors += 1
        elif outcome == Outcome.DROPPED:
            dropped += 1
        for i, threshold in enumerate(thresholds):
            if threshold.kind == "duration" and series[i].matches(record):
                values[i].extend(_duration_values(threshold.metric, record))
    checks = tuple(_check(t, aggregator, values[i], window_s) for i, t in enumerate(thresholds))
    sent = requests - dropped
    saturation = None
    if requests and dropped / requests > DROPPED_LIMIT:
        saturation = f"{dropped / requests:.0%} dropped at the in-flight cap"
    elif requests and completed / requests < COMPLETED_LIMIT:
        saturation = f"completed only {completed / requests:.0%} of the offered rate"
    elif sent and errors / sent >= ERROR_LIMIT:
        saturation = f"{errors / sent:.0%} of the requests failed"
    lat = np.asarray(latencies)
    return StepStats(
        window_s=window_s,
        requests=requests,
        ok=ok,
        errors=errors,
        dropped=dropped,
        completed_per_s=completed / window_s if window_s > 0 else 0.0,
        offered_per_s=requests / window_s if window_s > 0 else 0.0,
        p50_ms=_nearest_rank(lat, 50),
        p99_ms=_nearest_rank(lat, 99),
        checks=checks,
        saturation=saturation,
    )


def _duration_values(metric: str, record: RequestRecord) -> Sequence[float]:
    if record.outcome == Outcome.CANCELLED and metric in ("latency", "service"):
        # Cut off at the end: it took at least this long.
        start = record.intended_at if metric == "latency" else record.sent_at
        return () if start is None else ((record.done_at - start) / 1e6,)
    return metric_values(metric, record)


def _nearest_rank(values: np.ndarray[Any, Any], percentile: float) -> float | None:
    if values.size == 0:
        return None
    rank = max(1, math.ceil(percentile / 100 * values.size))
    return float(np.partition(values, rank - 1)[rank - 1])


def _check(
    threshold: Threshold, aggregator: SloAggregator, raw: list[float], window_s: float
) -> Check:
    verdict = evaluate(threshold, aggregator, window_s)
    observed, samples = verdict.observed, verdict.samples
    limit = threshold.limit
    below = above = 0.0  # bootstrap probability that the statistic lies below / above
    if threshold.kind == "duration" and threshold.percentile is not None and raw:
        arr = np.asarray(raw)
        n = arr.size
        rank = max(1, math.ceil(threshold.percentile / 100 * n))  # nearest rank
        observed, samples = _nearest_rank(arr, threshold.percentile), n
        # pQ* < L  <=>  at least `rank` resampled values lie below L.
        below = binom_sf(rank - 1, n, np.count_nonzero(arr < limit) / n)
        above = binom_cdf(rank - 1, n, np.count_nonzero(arr <= limit) / n)
    elif threshold.kind == "duration" and threshold.aggregate == "avg" and len(raw) > 1:
        arr = np.asarray(raw)
        observed, samples = float(arr.mean()), arr.size
        se = float(arr.std(ddof=1)) / math.sqrt(arr.size)
        z = (limit - observed) / se if se > 0 else math.copysign(math.inf, limit - observed)
        below, above = normal_cdf(z), normal_cdf(-z)
    elif observed is None:
        pass
    elif threshold.kind == "ratio" and samples > 0:
        # K* ~ Binomial(n, observed): the bootstrap distribution of the count.
        below = binom_cdf(math.ceil(limit * samples) - 1, samples, observed)
        above = binom_sf(math.floor(limit * samples), samples, observed)
    elif threshold.kind == "rate" and window_s > 0:
        count = round(observed * window_s)  # C* ~ Poisson(count)
        below = poisson_cdf(math.ceil(limit * window_s) - 1, count)
        above = poisson_sf(math.floor(limit * window_s), count)
    else:  # exact: min, max, count
        passed = threshold.passes(observed)
        return Check(str(threshold), observed, limit, samples, float(passed), float(not passed))
    passing_below = threshold.op in ("<", "<=")
    return Check(
        expr=str(threshold),
        observed=observed,
        limit=limit,
        samples=samples,
        confidence_pass=below if passing_below else above,
        confidence_fail=above if passing_below else below,
    )
