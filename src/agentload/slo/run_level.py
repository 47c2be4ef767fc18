"""Run-level thresholds: what is judged once, when the run has ended, not record by record.

- ``generator_cpu`` / ``generator_loop_lag``: the load generator's own telemetry samples
  (``generator.cpu_percent``, percent of one core; ``generator.loop_lag_ms``, the worst
  event-loop lateness since the previous sample), one value per sample; the aggregate is
  taken over the samples (pN nearest-rank, exact). A run without the ``generator``
  collector (``telemetry: {generator: null}``) or too short for a sample has no data.
- ``trustworthy``: the summary's flag (``Summary.trustworthy``): false when the generator
  fell behind its schedule (p99 schedule lag over the validity limit) or saturated (CPU or
  event-loop lag over its limit for consecutive samples); observed 1 for true, 0 for false,
  and the reasons go in the verdict's note.

Telemetry is sampled about once a second, so abort rules (checked every 0.25 s from the
records) do not take these; ``p99(schedule_lag) < 5ms`` with ``abort_on_fail`` is the live
guard against a generator falling behind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agentload.records.samples import (
    GENERATOR_COLLECTOR,
    GENERATOR_CPU_SERIES,
    GENERATOR_LAG_SERIES,
    Sample,
)
from agentload.slo.threshold import Threshold

NO_TELEMETRY = "no generator telemetry (telemetry.generator is off or the run was too short)"
AT_RUN_END = "judged when the run ends"


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What run-level thresholds read: generator samples and the summary's trust verdict."""

    generator_cpu: tuple[float, ...] = ()
    generator_loop_lag: tuple[float, ...] = ()
    untrustworthy_because: tuple[str, ...] = ()

    @classmethod
    def from_samples(
        cls, samples: Iterable[Sample], untrustworthy_because: Sequence[str] = ()
    ) -> RunFacts:
        cpu: list[float] = []
        lag: list[float] = []
        for sample in samples:
            if sample.collector != GENERATOR_COLLECTOR:
                continue
            value = sample.values.get(GENERATOR_CPU_SERIES)
            if value is not None and math.isfinite(value):
                cpu.append(value)
            value = sample.values.get(GENERATOR_LAG_SERIES)
            if value is not None and math.isfinite(value):
                lag.append(value)
        return cls(tuple(cpu), tuple(lag), tuple(untrustworthy_because))


def observe(threshold: Threshold, facts: RunFacts | None) -> tuple[float | None, int, str | None]:
    """(observed, samples, note) of a run-level threshold; observed None: no data."""
    if facts is None:
        return None, 0, AT_RUN_END
    if threshold.kind == "flag":
        reasons = facts.untrustworthy_because
        return (0.0 if reasons else 1.0), 1, ("; ".join(reasons) or None)
    values = facts.generator_cpu if threshold.kind == "cpu" else facts.generator_loop_lag
    if not values:
        return None, 0, NO_TELEMETRY
    return aggregate(threshold.aggregate, values), len(values), None


def aggregate(name: str, values: Sequence[float]) -> float:
    """avg, min, max, or pN nearest-rank (as LatencyHistogram, but exact) of ``values``."""
    if name == "avg":
        return math.fsum(values) / len(values)
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    ordered = sorted(values)
    rank = max(1, math.ceil(float(name[1:]) / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]
