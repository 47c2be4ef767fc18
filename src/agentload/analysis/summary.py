"""The run summary: what ``summary.json`` holds and what the terminal report shows.

``Summary.to_dict()`` layout (``schema_version`` 1; keys are stable, new ones may be added):

    schema_version  1
    counts          {requests, sent, ok, error, dropped, cancelled}
                    requests = ok + error + dropped + cancelled; sent = requests - dropped
    errors_by_kind  {error_kind: count} over outcome "error" ("unknown" when a record has none)
    rate            {target_per_s (None if not given), offered_per_s, achieved_per_s,
                    ok_per_s, window_s}
                    offered_per_s: requests that came due per second of window_s, the issue
                    window (span of intended starts × n/(n-1)); achieved_per_s: requests sent
                    per second of the span of actual sends (same correction), so a generator
                    that fell behind reads low; ok_per_s: ok requests per duration_s
    duration_s      first intended start to last completion, or the time load was applied
                    (``load_window_s``, e.g. a closed run whose users were thinking at the
                    end), whichever is longer
    metrics         {name: {count, mean, std, min, max, p50, p90, p95, p99, p99_9}} for
                    latency_ms (from the intended start), service_ms (from the actual send),
                    schedule_lag_ms (split, open model only, into scheduler_lag_ms: the
                    timer fired late, and dispatch_lag_ms: released to written), ttft_ms,
                    ttfb_ms, itl_ms (every gap of every request),
                    tpot_ms, output_tokens_per_s_per_request (tokens/s, not ms), and
                    error_latency_ms; values are None when count is 0; std is the population
                    std; percentiles are nearest-rank, accurate to ~0.1%, within [min, max]
    tokens          {input, output, output_per_s, approximate}
    per_action      {action: {count, ok, error, dropped, cancelled, latency_p50_ms,
                    latency_p99_ms}}
    warnings        [human-readable strings]; rules in agentload.analysis.validity
    thresholds      [{expr, ok, observed, limit, unit, margin, margin_relative, samples,
                    no_data, few_samples, note, abort_on_fail, aborted_run}], one per
                    threshold of the scenario, in order; ok is None for no data; see
                    agentload.slo.evaluate (empty list when the scenario has none)
    sessions        None, or for runs with sessions {count, succeeded, failed, success_rate,
                    duration_ms {p50, p90, max}, turns {mean, max}, by_turn [{turn, ok,
                    latency_p50_ms, latency_p99_ms, ttft_p50_ms, input_tokens_mean}],
                    by_persona {persona: {sessions, share, succeeded, turns_mean, ok, error,
                    slow, latency_p50_ms, latency_p99_ms}} (empty without personas)}
    counts.slow     ok requests slower than their action's ``sla`` (a subset of ok)
    goodput         {objectives, good, per_s, per_action: {action: {good, per_s}}}: requests
                    that met every per-request objective; see agentload.analysis.goodput
    retries         {attempts, retried, retry_amplification, first_attempt_success_rate,
                    eventual_success_rate} over sent requests (target.retry; without it
                    amplification is 1 and the two rates are equal); rates None when none sent
    jobs            None, or for async jobs (records with polls) {count, succeeded, polls,
                    polls_per_job {mean, max}, queue_wait_ms, execution_ms, poll_overhead_ms
                    (each {count, mean, p50, p90, p99, max}, succeeded jobs)}; see
                    agentload.metrics.jobs
    trustworthy     false when the generator fell behind its schedule (validity rule 3) or
                    saturated (rule 9, from its telemetry); trust_reasons [strings] says why
                    (empty when trustworthy); gate it with ``trustworthy == true``
    bottleneck      optional (absent when not analysed): {name, confidence, headline, evidence,
                    trustworthy, causes, components, windows, correlations}; the most likely
                    bottleneck and its evidence, see agentload.analysis.bottleneck

Populations: every metric except schedule_lag_ms (all sent requests) and error_latency_ms
(sent errors) covers outcome "ok" only, as do the token totals; see agentload.metrics.aggregate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from agentload.analysis import validity
from agentload.analysis.goodput import Goodput
from agentload.metrics.aggregate import METRIC_NAMES, RunAggregator
from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import RequestRecord
from agentload.slo.evaluate import Verdict

if TYPE_CHECKING:
    from agentload.analysis.bottleneck import Bottleneck

SCHEMA_VERSION: Final = 1
PERCENTILES: Final = (50.0, 90.0, 95.0, 99.0, 99.9)


@dataclass(frozen=True, slots=True)
class MetricStats:
    count: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p99_9: float | None = None

    @classmethod
    def from_histogram(cls, histogram: LatencyHistogram) -> MetricStats:
        if histogram.count == 0:
            return cls(count=0)
        p50, p90, p95, p99, p99_9 = histogram.percentiles_ms(PERCENTILES)
        return cls(
            count=histogram.count,
            mean=histogram.mean_ms,
            std=histogram.stdev_ms,
            min=histogram.min_ms,
            max=histogram.max_ms,
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
            p99_9=p99_9,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class ActionStats:
    count: int
    ok: int
    error: int
    dropped: int
    cancelled: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


@dataclass(frozen=True, slots=True)
class TokenStats:
    input: int
    output: int
    output_per_s: float | None
    approximate: bool


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    sent: int
    ok: int
    error: int
    dropped: int
    cancelled: int
    errors_by_kind: Mapping[str, int]
    target_per_s: float | None
    offered_per_s: float | None
    achieved_per_s: float | None
    ok_per_s: float | None
    window_s: float | None
    duration_s: float | None
    metrics: Mapping[str, MetricStats]  # METRIC_NAMES plus "error_latency_ms"
    tokens: TokenStats
    per_action: Mapping[str, ActionStats]
    warnings: tuple[str, ...] = ()
    thresholds: tuple[Verdict, ...] = ()
    goodput: Goodput | None = None
    sessions: Mapping[str, Any] | None = None  # see metrics.sessions.SessionAggregator
    bottleneck: Bottleneck | None = None  # see analysis.bottleneck; set after the run
    retries: Mapping[str, Any] | None = None  # see retry_stats
    slow: int = 0  # ok requests over their action's sla (marked, not errors)
    untrustworthy_because: tuple[str, ...] = ()  # validity.untrusted_reasons
    jobs: Mapping[str, Any] | None = None  # see metrics.jobs.JobAggregator

    @property
    def trustworthy(self) -> bool:
        return not self.untrustworthy_because

    @property
    def thresholds_failed(self) -> list[Verdict]:
        return [v for v in self.thresholds if v.ok is False]

    def to_dict(self) -> dict[str, Any]:
        """The summary.json content (layout in the module docstring); JSON-serialisable."""
        return {
            "schema_version": SCHEMA_VERSION,
            "counts": {
                "requests": self.requests,
                "sent": self.sent,
                "ok": self.ok,
                "error": self.error,
                "dropped": self.dropped,
                "cancelled": self.cancelled,
                "slow": self.slow,
            },
            "errors_by_kind": dict(sorted(self.errors_by_kind.items())),
            "rate": {
                "target_per_s": self.target_per_s,
                "offered_per_s": self.offered_per_s,
                "achieved_per_s": self.achieved_per_s,
                "ok_per_s": self.ok_per_s,
                "window_s": self.window_s,
            },
            "duration_s": self.duration_s,
            "metrics": {name: stats.to_dict() for name, stats in self.metrics.items()},
            "tokens": dataclasses.asdict(self.tokens),
            "per_action": {
                name: dataclasses.asdict(stats) for name, stats in sorted(self.per_action.items())
            },
            "warnings": list(self.warnings),
            "thresholds": [v.to_dict() for v in self.thresholds],
            "goodput": None if self.goodput is None else self.goodput.to_dict(),
            "sessions": None if self.sessions is None else dict(self.sessions),
            "retries": None if self.retries is None else dict(self.retries),
            "trustworthy": self.trustworthy,
            "trust_reasons": list(self.untrustworthy_because),
            "jobs": None if self.jobs is None else dict(self.jobs),
        } | ({} if self.bottleneck is None else {"bottleneck": self.bottleneck.to_dict()})


def build_summary(
    aggregator: RunAggregator,
    *,
    target_rate_per_s: float | None,
    load_window_s: float | None = None,
) -> Summary:
    """Freeze an aggregator's state into a Summary, validity warnings included.

    ``load_window_s`` is how long load was applied (from the run's start until sending
    stopped), when known; it keeps throughput honest when the records end before the run did.
    """
    duration_s = aggregator.duration_s
    if load_window_s is not None and (duration_s is None or load_window_s > duration_s):
        duration_s = load_window_s if load_window_s > 0 else duration_s
    metrics = {
        name: MetricStats.from_histogram(aggregator.histograms[name]) for name in METRIC_NAMES
    }
    metrics["error_latency_ms"] = MetricStats.from_histogram(aggregator.error_latency)
    per_action = {}
    for name, totals in aggregator.per_action.items():
        p50, p99 = totals.latency.percentiles_ms((50, 99))
        per_action[name] = ActionStats(
            count=totals.count,
            ok=totals.ok,
            error=totals.error,
            dropped=totals.dropped,
            cancelled=totals.cancelled,
            latency_p50_ms=p50,
            latency_p99_ms=p99,
        )
    summary = Summary(
        requests=aggregator.requests,
        sent=aggregator.sent,
        ok=aggregator.ok,
        error=aggregator.error,
        dropped=aggregator.dropped,
        cancelled=aggregator.cancelled,
        errors_by_kind=dict(aggregator.errors_by_kind.most_common()),
        target_per_s=target_rate_per_s,
        offered_per_s=aggregator.offered_per_s,
        achieved_per_s=aggregator.achieved_per_s,
        ok_per_s=aggregator.ok / duration_s if duration_s else None,
        window_s=aggregator.issue_window_s,
        duration_s=duration_s,
        metrics=metrics,
        tokens=TokenStats(
            input=aggregator.input_tokens,
            output=aggregator.output_tokens,
            output_per_s=aggregator.output_tokens / duration_s if duration_s else None,
            approximate=aggregator.tokens_approx,
        ),
        per_action=per_action,
        sessions=aggregator.sessions.to_dict(),
        slow=aggregator.slow,
        retries=retry_stats(aggregator),
        jobs=aggregator.jobs.to_dict(),
    )
    return dataclasses.replace(
        summary,
        warnings=validity.check(summary),
        untrustworthy_because=validity.untrusted_reasons(summary),
    )


def summarize(
    records: Iterable[RequestRecord],
    *,
    target_rate_per_s: float | None,
    load_window_s: float | None = None,
) -> Summary:
    """One pass over ``records`` in fixed memory (a generator over a run directory is fine)."""
    aggregator = RunAggregator()
    for record in records:
        aggregator.add(record)
    return build_summary(
        aggregator, target_rate_per_s=target_rate_per_s, load_window_s=load_window_s
    )


def retry_stats(aggregator: RunAggregator) -> dict[str, Any]:
    """What retries cost and bought: extra attempts per sent request, and success before
    and after retrying (the first is what users of a client without retries would see)."""
    sent = aggregator.sent
    return {
        "attempts": aggregator.attempts,
        "retried": aggregator.retried,
        "retry_amplification": aggregator.attempts / sent if sent else None,
        "first_attempt_success_rate": aggregator.first_attempt_ok / sent if sent else None,
        "eventual_success_rate": aggregator.ok / sent if sent else None,
    }


def with_run_notes(summary: Summary, meta: Mapping[str, Any]) -> Summary:
    """Warnings from how the run went (meta.json): an abort by the circuit breaker, TLS
    certificates not verified; and retries, which can hide failures from the success rate.
    The report recomputes them from the run directory."""
    notes: list[str] = []
    reason = meta.get("abort_reason")
    if isinstance(reason, str):
        notes.append(f"run aborted: {reason}")
    if meta.get("tls_verified") is False:
        notes.append("TLS certificates were not verified (target.insecure: true)")
    retries = summary.retries or {}
    if retries.get("retried"):
        notes.append(
            f"{retries['retried']} requests were retried (x{retries['retry_amplification']:.2f}"
            f" attempts per request): first-attempt success "
            f"{retries['first_attempt_success_rate']:.1%}, eventual "
            f"{retries['eventual_success_rate']:.1%}"
        )
    new = tuple(n for n in notes if n not in summary.warnings)
    return dataclasses.replace(summary, warnings=(*summary.warnings, *new)) if new else summary
