"""Was the load generator itself the bottleneck? A verdict from its own telemetry samples.

The ``generator`` collector samples this process's CPU (percent of one core) and the
lateness of its event loop. A sample is *saturated* when CPU >= ``cpu_limit_percent`` or
loop lag > ``loop_lag_limit_ms``; the generator is saturated from the first of
``consecutive`` saturated samples in a row (one busy second is noise, two are a pattern).
From then on its requests may have gone out late and its timings carry its own delays, so
latency figures after that time describe the generator as much as the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentload.clock import NS_PER_S
from agentload.records.samples import (
    GENERATOR_COLLECTOR,
    GENERATOR_CPU_SERIES,
    GENERATOR_LAG_SERIES,
    Sample,
)

COLLECTOR = GENERATOR_COLLECTOR
CPU_SERIES = GENERATOR_CPU_SERIES
LAG_SERIES = GENERATOR_LAG_SERIES
CPU_LIMIT_PERCENT = 90.0
LOOP_LAG_LIMIT_MS = 50.0
CONSECUTIVE = 2


@dataclass(frozen=True, slots=True)
class GeneratorVerdict:
    samples: int  # generator samples that had CPU or loop lag
    saturated_from_s: float | None  # run-clock seconds; None: never saturated
    saturated_samples: int
    peak_cpu_percent: float | None
    peak_loop_lag_ms: float | None
    reason: str | None = None  # what crossed its limit first ("CPU 97% of a core")

    @property
    def saturated(self) -> bool:
        return self.saturated_from_s is not None

    @property
    def warning(self) -> str | None:
        if self.saturated_from_s is None:
            return None
        return (
            f"generator saturated from t={self.saturated_from_s:.1f}s ({self.reason}): "
            "its own delays are in the latencies from then on; use more worker processes, "
            "a lower rate, or a faster machine for the load generator"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "saturated": self.saturated,
            "saturated_from_s": self.saturated_from_s,
            "saturated_samples": self.saturated_samples,
            "peak_cpu_percent": self.peak_cpu_percent,
            "peak_loop_lag_ms": self.peak_loop_lag_ms,
            "reason": self.reason,
        }


def generator_verdict(
    samples: Iterable[Sample],
    *,
    cpu_limit_percent: float = CPU_LIMIT_PERCENT,
    loop_lag_limit_ms: float = LOOP_LAG_LIMIT_MS,
    consecutive: int = CONSECUTIVE,
) -> GeneratorVerdict:
    points = sorted(
        (s.at_ns, s.values.get(CPU_SERIES), s.values.get(LAG_SERIES))
        for s in samples
        if s.collector == COLLECTOR and (CPU_SERIES in s.values or LAG_SERIES in s.values)
    )
    peak_cpu = max((cpu for _, cpu, _ in points if cpu is not None), default=None)
    peak_lag = max((lag for _, _, lag in points if lag is not None), default=None)
    run_start: tuple[int, str] | None = None
    saturated_from: tuple[int, str] | None = None
    run_length = saturated_count = 0
    for at_ns, cpu, lag in points:
        reason = _reason(cpu, lag, cpu_limit_percent, loop_lag_limit_ms)
        if reason is None:
            run_length, run_start = 0, None
            continue
        saturated_count += 1
        run_length += 1
        if run_start is None:
            run_start = (at_ns, reason)
        if saturated_from is None and run_length >= consecutive:
            saturated_from = run_start
    return GeneratorVerdict(
        samples=len(points),
        saturated_from_s=None if saturated_from is None else saturated_from[0] / NS_PER_S,
        saturated_samples=saturated_count,
        peak_cpu_percent=peak_cpu,
        peak_loop_lag_ms=peak_lag,
        reason=None if saturated_from is None else saturated_from[1],
    )


def _reason(cpu: float | None, lag: float | None, cpu_limit: float, lag_limit: float) -> str | None:
    if cpu is not None and cpu >= cpu_limit:
        return f"CPU {cpu:.0f}% of a core"
    if lag is not None and lag > lag_limit:
        return f"event-loop lag {lag:.0f} ms"
    return None
