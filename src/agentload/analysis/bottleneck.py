"""Name the most likely bottleneck of a run, with the evidence and a confidence.

Inputs: the latency components of every ok request (``attribution.PhaseWindows``), the
run's schedule lag, and the telemetry samples when there are any. Causes and their parts:

    inference_queue    queue            context_store   store_read + store_write
    tool_calls         tool             inference_compute  prefill + decode
    load_generator     schedule_lag, plus network_or_client when the generator is strained
    network_or_client  the rest of the time outside the server (network, proxies, client)
    polling            poll_overhead: an async job's result waited for the next poll

Polling is how the client chose to wait, not a delay of the generator: a strained generator
never absorbs it, and a ``polling`` verdict leaves the run trustworthy.

A cause's *score* is its share of latency: the larger of its share over all ok requests and
among the requests near p95 (the tail; only with ``attribution.TAIL_MIN_BAND`` requests in
that band, about 100 ok requests, so that one slow request cannot decide the verdict).

Rules, in order:

1. Fewer than ``MIN_REQUESTS`` ok requests: ``none`` (confidence 0: too little to say).
2. The generator is *strained* when the schedule lag p99 breaks the validity limit
   (``validity.schedule_lag_threshold_ms``) or its telemetry says it saturated
   (``generator_check.generator_verdict``). A strained generator whose share over all ok
   requests is at least ``GENERATOR_MIN_SHARE`` (30%) is the bottleneck, and the run is
   untrustworthy: the latencies measure the client as much as the target.
3. Otherwise the waiting cause (queue, store, tools, polling, network/client) with the highest
   score,
   when that is at least ``MIN_SHARE`` (25%; 40% for network/client, whose share is never
   zero: loopback, parsing).
4. Otherwise ``inference_compute`` when compute is at least half of latency and the
   accelerator is saturated (``gpu*.util_percent`` mean >= 90 or
   ``server.kv_cache_usage_ratio`` mean >= 0.9).
5. Otherwise, for a target that reports no phases: the cause of a telemetry series that
   rises with latency (r >= 0.7) and grows through the run (``bottleneck_telemetry``), with
   confidence 0.5 × r (at most 0.5: a lead, not a measurement).
6. Otherwise ``none``: the time goes to the work itself, not to waiting.

Every verdict also reports queues that grow through the run (``server.queue_length``,
``generator.in_flight``).

Confidence (0..1) = 0.5 × dominance + 0.3 × separation + 0.2 × corroboration, where
dominance = (score − 0.25) / 0.35 clipped to 0..1 (1 at 60% of latency), separation =
(score − the runner-up's score) / 0.3 clipped, and corroboration is 1 when independent
evidence agrees (the cause's share grew through the run, or a telemetry series of the cause
rose with latency, r >= 0.5), 0.5 for one weaker sign, else 0. For ``none`` it is how far the
largest waiting share stays below ``MIN_SHARE``. Read >= 0.7 as strong, 0.4..0.7 as probable,
below 0.4 as a lead to check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from agentload.analysis import validity
from agentload.analysis.attribution import CAUSE_OF_PHASE, PhaseWindows, WindowSeries, causes_of
from agentload.analysis.attribution_series import correlations
from agentload.analysis.bottleneck_details import fold_causes, load_step_line, run_details
from agentload.analysis.bottleneck_telemetry import (
    compute_saturated,
    corroboration,
    queue_growth_lines,
    telemetry_only_cause,
)
from agentload.analysis.generator_check import (
    CPU_LIMIT_PERCENT,
    LOOP_LAG_LIMIT_MS,
    generator_verdict,
)
from agentload.records.samples import Sample

if TYPE_CHECKING:
    from agentload.analysis.summary import Summary

NAMES: Final = (
    "inference_queue",
    "context_store",
    "tool_calls",
    "inference_compute",
    "network_or_client",
    "polling",
    "load_generator",
    "none",
)
WAITING: Final = ("inference_queue", "context_store", "tool_calls", "polling", "network_or_client")
MIN_REQUESTS: Final = 20
MIN_SHARE: Final = 0.25
GENERATOR_MIN_SHARE: Final = 0.3
POLL_EVIDENCE_SHARE: Final = 0.05  # poll overhead worth a line of evidence whatever the verdict
# Time outside the server is never zero (loopback, parsing): it must stand out more.
NETWORK_MIN_SHARE: Final = 0.4
LABELS: Final = {
    "inference_queue": "inference queueing (requests wait for a batch slot)",
    "context_store": "the context store",
    "tool_calls": "tool calls",
    "inference_compute": "model compute (the accelerator is saturated)",
    "network_or_client": "the network or the client, outside the server",
    "polling": "polling for async job results (the client's waiting strategy)",
    "load_generator": "the load generator itself",
    "none": "no bottleneck found",
}


@dataclass(frozen=True, slots=True)
class Bottleneck:
    name: str  # one of NAMES
    confidence: float  # 0..1, see the module docstring
    headline: str
    evidence: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)  # shares, windows, correlations

    @property
    def trustworthy(self) -> bool:
        return self.name != "load_generator"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confidence": round(self.confidence, 3),
            "headline": self.headline,
            "evidence": list(self.evidence),
            "trustworthy": self.trustworthy,
            **self.details,
        }


def diagnose(
    windows: PhaseWindows,
    samples: Sequence[Sample] = (),
    *,
    lag_p99_ms: float | None = None,
    service_p50_ms: float | None = None,
    generator_limits: Mapping[str, Any] | None = None,
) -> Bottleneck:
    """``generator_limits``: the run's ``cpu_limit_percent`` and ``loop_lag_limit_ms`` for
    ``generator_verdict`` (meta.json's ``telemetry`` entry); defaults where missing."""
    if windows.count < MIN_REQUESTS:
        few = f"too few ok requests to attribute latency ({windows.count}; {MIN_REQUESTS} needed)"
        return Bottleneck("none", 0.0, LABELS["none"], (few,))
    shares, tail = windows.shares(), windows.tail_shares()
    timeline = windows.series()
    corr = correlations(samples, timeline)
    evidence: list[str] = []
    strained = _generator_strain(samples, lag_p99_ms, service_p50_ms, generator_limits, evidence)
    evidence += queue_growth_lines(corr, len(timeline.start_s) * timeline.window_s)
    evidence += _polling_lines(shares)
    scores_all = fold_causes(causes_of(shares), strained)
    scores_tail = fold_causes(causes_of(tail), strained)
    scores = {c: max(v, scores_tail.get(c, 0.0)) for c, v in scores_all.items()}
    details = run_details(shares, tail, scores_all, scores_tail, timeline, corr, strained)
    candidates = [c for c in WAITING if scores.get(c, 0.0) >= _min_share(c)]
    # Over all requests, not the tail: a few late sends on a busy machine are not a verdict.
    if strained and scores_all.get("load_generator", 0.0) >= GENERATOR_MIN_SHARE:
        name = "load_generator"
    elif candidates:
        name = max(candidates, key=lambda c: scores[c])
    elif compute_saturated(scores, samples, evidence):
        name = "inference_compute"
    elif not windows.with_phases and (cause := telemetry_only_cause(corr, evidence)):
        # No phases to weigh: a lead from telemetry alone, never more than probable.
        r = max(c.r for c in corr)
        headline = f"{LABELS[cause]} (from telemetry; the target reports no phases)"
        return Bottleneck(cause, min(0.5, 0.5 * r), headline, tuple(evidence), details)
    else:
        return _none(scores, shares, windows, evidence, details)
    score = scores[name]
    runner_up = max((v for c, v in scores.items() if c not in (name, "server_other")), default=0)
    growth = _growth(timeline, name)
    signs = corroboration(name, growth, corr, evidence)
    by_load = load_step_line(name, timeline, strained)
    if by_load:
        evidence.append(by_load)
    dominance = min(1.0, max(0.0, (score - MIN_SHARE) / 0.35))
    separation = min(1.0, max(0.0, (score - runner_up) / 0.3))
    confidence = 0.5 * dominance + 0.3 * separation + 0.2 * signs
    lines = [
        f"{name}: {scores_all.get(name, 0.0):.0%} of latency over all ok requests, "
        f"{scores_tail.get(name, 0.0):.0%} near p95 ({_parts(name, shares, strained)})",
        f"next largest: {_runner_up_text(scores, name)}",
        *evidence,
    ]
    if name == "load_generator":
        lines.append("the run is untrustworthy: its latencies include the generator's own delays")
    return Bottleneck(name, confidence, LABELS[name], tuple(lines), details)


def with_bottleneck(
    summary: Summary,
    windows: PhaseWindows,
    samples: Sequence[Sample] = (),
    generator_limits: Mapping[str, Any] | None = None,
) -> Summary:
    """The summary with its bottleneck, and the validity warnings that depend on it."""
    found = diagnose(
        windows,
        samples,
        lag_p99_ms=summary.metrics["schedule_lag_ms"].p99,
        service_p50_ms=summary.metrics["service_ms"].p50,
        generator_limits=generator_limits,
    )
    done = dataclasses.replace(summary, bottleneck=found)
    # Append only what is new: other steps (telemetry) may have added warnings already.
    fresh = tuple(w for w in validity.check(done) if w not in summary.warnings)
    return dataclasses.replace(done, warnings=summary.warnings + fresh) if fresh else done


def _polling_lines(shares: Mapping[str, float]) -> list[str]:
    share = shares.get("poll_overhead", 0.0)
    if share < POLL_EVIDENCE_SHARE:
        return []
    return [f"poll overhead {share:.0%} of time to result: poll faster or use a push API"]


def _min_share(cause: str) -> float:
    return NETWORK_MIN_SHARE if cause == "network_or_client" else MIN_SHARE


def _generator_strain(
    samples: Sequence[Sample],
    lag_p99_ms: float | None,
    service_p50_ms: float | None,
    limits: Mapping[str, Any] | None,
    evidence: list[str],
) -> bool:
    strained = False
    limit_ms = validity.schedule_lag_threshold_ms(service_p50_ms)
    if lag_p99_ms is not None and lag_p99_ms > limit_ms:
        evidence.append(f"schedule lag p99 {lag_p99_ms:.1f} ms > the {limit_ms:.1f} ms limit")
        strained = True
    limits = limits if isinstance(limits, Mapping) else {}
    verdict = generator_verdict(
        samples,
        cpu_limit_percent=_limit(limits.get("cpu_limit_percent"), CPU_LIMIT_PERCENT),
        loop_lag_limit_ms=_limit(limits.get("loop_lag_limit_ms"), LOOP_LAG_LIMIT_MS),
    )
    if verdict.saturated:
        evidence.append(
            f"generator telemetry: saturated from t={verdict.saturated_from_s:.1f}s "
            f"({verdict.reason})"
        )
        strained = True
    return strained


def _limit(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _growth(timeline: WindowSeries, cause: str) -> tuple[float, float] | None:
    """The cause's mean share in the first and the last third of the windows."""
    rows = [
        sum(v for n, s in timeline.shares.items() if _cause(n) == cause and (v := s[i]) is not None)
        for i in range(len(timeline.start_s))
        if timeline.count[i]
    ]
    if len(rows) < 3:
        return None
    third = len(rows) // 3
    return float(np.mean(rows[:third])), float(np.mean(rows[-third:]))


def _cause(component: str) -> str:
    return CAUSE_OF_PHASE.get(component, component)


def _none(
    scores: Mapping[str, float],
    shares: Mapping[str, float],
    windows: PhaseWindows,
    evidence: list[str],
    details: dict[str, Any],
) -> Bottleneck:
    waiting = {c: scores.get(c, 0.0) for c in WAITING}
    top = max(waiting, key=lambda c: waiting[c])
    lines = [
        f"no waiting cause reaches {MIN_SHARE:.0%} of latency: largest {top} {waiting[top]:.0%}"
    ]
    if windows.with_phases:
        lines.append(f"model compute {scores.get('inference_compute', 0.0):.0%} of latency")
    else:
        lines.append("the target reports no phases: only the generator and telemetry checked")
    confidence = max(0.0, 1.0 - waiting[top] / MIN_SHARE)
    if not windows.with_phases:
        confidence *= 0.5
    return Bottleneck("none", confidence, LABELS["none"], (*lines, *evidence), details)


def _parts(name: str, shares: Mapping[str, float], strained: bool) -> str:
    causes = {name}
    if name in ("load_generator", "network_or_client") and (strained or name != "load_generator"):
        causes |= {"load_generator", "network_or_client"}
    parts = sorted((-v, n) for n, v in shares.items() if _cause(n) in causes)
    return ", ".join(f"{n} {-v:.0%}" for v, n in parts) or "no parts"


def _runner_up_text(scores: Mapping[str, float], name: str) -> str:
    rest = sorted(((v, c) for c, v in scores.items() if c != name), reverse=True)
    return ", ".join(f"{c} {v:.0%}" for v, c in rest[:2]) or "nothing else"
