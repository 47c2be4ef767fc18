"""Validity checks: can the run's numbers be trusted as they stand? Each rule yields a warning.

Rules, in the order the warnings appear:

1. ``requests > 0 and ok == 0``: "no request succeeded: ...".
2. Percentile support, for ``latency_ms`` (ok records) when its count n > 0: percentile p is
   unreliable when n < 100 / (100 - p), i.e. fewer samples than it takes for one to lie
   above it: p90 needs 10, p95 20, p99 100, p99.9 1000. One warning names every unreliable
   one: "latency p99, p99.9 rest on 57 samples (p99 needs 100, p99.9 needs 1000) ...".
3. Schedule lag: p99 of ``schedule_lag_ms`` > max(10 ms, 5% of p50 ``service_ms``), the
   latter only when there is a p50 service time: "generator fell behind: p99 schedule lag
   ...". The absolute floor ignores event-loop jitter; the relative part keeps a 50 ms lag
   against 5 s answers quiet while 50 ms against 20 ms answers is reported.
3a. Timestamp precision, when rule 3 is quiet: p99 of ``scheduler_lag_ms`` (open model: how
   late the loop fired the send timers; at least 100 of them) > 3 ms: "timestamps late by
   up to ...". The same
   loop stamps the first byte, each token and the end, so at that p99 it stamped them as
   late: TTFT and ITL differences below it are not resolved (the generator's share of a
   TTFT error tracks it: ``bench/ttft_accuracy.py``). 3 ms is the TTFT accuracy the
   generator is held to at p99; closed runs have no send timers and are not judged here.
4. ``dropped > 0``: "N requests dropped at the in-flight cap".
5. ``achieved_per_s < 0.95 * offered_per_s``: the sends did not keep up with the schedule
   (the generator fell behind, or requests were dropped): "achieved rate X/s is Y% below
   the offered Z/s". Compared with the schedule's own rate, not the target, so that the
   chance variation of a Poisson schedule (~1/sqrt(n)) is not mistaken for a shortfall.
6. ``tokens.approximate``: "token counts approximate: ...".
7. ``cancelled > 0``: "N requests cancelled in flight when the run stopped".
8. ``client_limit`` errors: the generator ran out of sockets or file descriptors; those
   failures say nothing about the target.
9. From telemetry, not the summary (``telemetry_warnings``): the generator's own CPU or
   event-loop lag crossed its limit for 2 samples in a row (``analysis.generator_check``).
10. ``bottleneck.name == "load_generator"`` (``analysis.bottleneck``, set after the run):
    "run untrustworthy: the load generator is the bottleneck ...".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from agentload.analysis.generator_check import (
    CPU_LIMIT_PERCENT,
    LOOP_LAG_LIMIT_MS,
    GeneratorVerdict,
    generator_verdict,
)
from agentload.records.samples import Sample
from agentload.units import format_duration_ms, format_rate

if TYPE_CHECKING:
    from agentload.analysis.summary import Summary

# Percentile label -> samples it needs: 100 / (100 - p).
PERCENTILE_MIN_SAMPLES: Final = {"p90": 10, "p95": 20, "p99": 100, "p99.9": 1000}
LAG_FLOOR_MS: Final = 10.0
TIMESTAMP_PRECISION_MS: Final = 3.0  # rule 3a
TIMESTAMP_WARNING_PREFIX: Final = "timestamps late by up to"
LAG_SERVICE_FRACTION: Final = 0.05
RATE_SHORTFALL_RATIO: Final = 0.95


def check(summary: Summary) -> tuple[str, ...]:
    warnings: list[str] = []
    if summary.requests > 0 and summary.ok == 0:
        warnings.append("no request succeeded: latency figures are empty")
    latency_count = summary.metrics["latency_ms"].count
    weak = [(p, need) for p, need in PERCENTILE_MIN_SAMPLES.items() if latency_count < need]
    if latency_count > 0 and weak:
        names = ", ".join(p for p, _ in weak)
        needs = ", ".join(f"{p} needs {need}" for p, need in weak)
        warnings.append(
            f"latency {names} rest{'s' if len(weak) == 1 else ''} on {latency_count} "
            f"sample{_s(latency_count)} ({needs}): treat {'it' if len(weak) == 1 else 'them'} "
            "as rough"
        )
    lag_warning = _schedule_lag_warning(summary) or _timestamp_precision_warning(summary)
    if lag_warning:
        warnings.append(lag_warning)
    if summary.dropped > 0:
        warnings.append(
            f"{summary.dropped} request{_s(summary.dropped)} dropped at the in-flight cap"
        )
    offered, achieved = summary.offered_per_s, summary.achieved_per_s
    if offered and achieved is not None and achieved < RATE_SHORTFALL_RATIO * offered:
        shortfall_pct = (1 - achieved / offered) * 100
        warnings.append(
            f"achieved rate {format_rate(achieved)} is {shortfall_pct:.1f}% below "
            f"the offered {format_rate(offered)}"
        )
    if summary.tokens.approximate:
        warnings.append(
            "token counts approximate: estimated by the client, not reported by the server"
        )
    if summary.cancelled > 0:
        warnings.append(
            f"{summary.cancelled} request{_s(summary.cancelled)} cancelled in flight "
            "when the run stopped"
        )
    client_limit = summary.errors_by_kind.get("client_limit", 0)
    if client_limit:
        warnings.append(
            f"{client_limit} request{_s(client_limit)} failed because the load generator ran "
            "out of sockets or file descriptors (raise ulimit -n or lower the in-flight cap); "
            "they say nothing about the target"
        )
    if summary.bottleneck is not None and not summary.bottleneck.trustworthy:
        warnings.append(
            "run untrustworthy: the load generator is the bottleneck (see Bottleneck); its own "
            "delays are in the latencies: give it more CPU or lower the load"
        )
    return tuple(warnings)


def telemetry_warnings(
    samples: Iterable[Sample],
    notes: Iterable[str],
    *,
    cpu_limit_percent: float = CPU_LIMIT_PERCENT,
    loop_lag_limit_ms: float = LOOP_LAG_LIMIT_MS,
) -> tuple[tuple[str, ...], GeneratorVerdict]:
    """Rule 9 and the collectors' own notes ("gpu telemetry off: ..."), in that order after
    the summary's warnings; with the generator verdict, which the run keeps in its meta."""
    verdict = generator_verdict(
        samples, cpu_limit_percent=cpu_limit_percent, loop_lag_limit_ms=loop_lag_limit_ms
    )
    lines = [*([verdict.warning] if verdict.warning else []), *notes]
    return tuple(lines), verdict


def untrusted_reasons(
    summary: Summary, generator: GeneratorVerdict | None = None
) -> tuple[str, ...]:
    """Why the run's numbers cannot be trusted as the target's (the summary's
    ``trustworthy`` flag is false when any): rule 3 (schedule lag) and rule 9 (generator
    saturated, when its telemetry verdict is known)."""
    reasons: list[str] = []
    lag_p99_ms = summary.metrics["schedule_lag_ms"].p99
    limit_ms = schedule_lag_threshold_ms(summary.metrics["service_ms"].p50)
    if lag_p99_ms is not None and lag_p99_ms > limit_ms:
        reasons.append(
            f"generator fell behind: p99 schedule lag {format_duration_ms(lag_p99_ms)} "
            f"> {format_duration_ms(limit_ms)}"
        )
    if generator is not None and generator.saturated_from_s is not None:
        reasons.append(
            f"generator saturated from t={generator.saturated_from_s:.1f}s ({generator.reason})"
        )
    return tuple(reasons)


def schedule_lag_threshold_ms(service_p50_ms: float | None) -> float:
    """The p99 schedule lag above which a run is flagged (rule 3)."""
    if service_p50_ms is None:
        return LAG_FLOOR_MS
    return max(LAG_FLOOR_MS, LAG_SERVICE_FRACTION * service_p50_ms)


def _schedule_lag_warning(summary: Summary) -> str | None:
    lag_p99_ms = summary.metrics["schedule_lag_ms"].p99
    if lag_p99_ms is None:
        return None
    threshold_ms = schedule_lag_threshold_ms(summary.metrics["service_ms"].p50)
    if lag_p99_ms <= threshold_ms:
        return None
    return (
        f"generator fell behind: p99 schedule lag {format_duration_ms(lag_p99_ms)} "
        f"> {format_duration_ms(threshold_ms)}; requests went out late (latency from the "
        "intended start includes the wait)"
    )


def _timestamp_precision_warning(summary: Summary) -> str | None:
    late = summary.metrics["scheduler_lag_ms"]
    late_p99_ms = late.p99
    if late_p99_ms is None or late.count < PERCENTILE_MIN_SAMPLES["p99"]:
        return None
    if late_p99_ms <= TIMESTAMP_PRECISION_MS:
        return None
    text = format_duration_ms(late_p99_ms)
    return (
        f"{TIMESTAMP_WARNING_PREFIX} {text} at p99: the generator fired its send timers "
        f"{text} late at p99 (its event loop busy or its core taken), and the same loop "
        "stamps first bytes and tokens; TTFT and ITL differences smaller than that are not "
        "resolved (a quieter machine or a lower rate per process helps)"
    )


def _s(n: int) -> str:
    return "" if n == 1 else "s"
