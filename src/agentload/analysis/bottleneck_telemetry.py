"""The telemetry side of a bottleneck verdict: what corroborates a cause, what names one
when the target reports no phases, and queues that grow through the run.

Series of each cause (``SERIES_OF_CAUSE``; ``*`` matches any GPU index). A series
*corroborates* the named cause when it rises with latency (r >= 0.5; r >= 0.7 counts fully).
A queue *grows* when its least-squares slope over the run adds at least half its mean and
at least 1 item over the run (``server.queue_length``: the server falls behind;
``generator.in_flight``: answers come back slower than requests go out).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np

from agentload.analysis.attribution_series import Correlation
from agentload.records.samples import Sample, series

SERIES_OF_CAUSE: Final = {
    "inference_queue": ("server.queue_length",),
    "context_store": ("redis.latency_ms",),
    "inference_compute": ("gpu*.util_percent", "server.kv_cache_usage_ratio"),
    "load_generator": ("generator.cpu_percent", "generator.loop_lag_ms"),
}
QUEUE_SERIES: Final = ("server.queue_length", "generator.in_flight")
TELEMETRY_ONLY_R: Final = 0.7


def compute_saturated(
    scores: Mapping[str, float], samples: Sequence[Sample], evidence: list[str]
) -> bool:
    if scores.get("inference_compute", 0.0) < 0.5:
        return False
    names = {n for s in samples for n in s.values}
    for name in sorted(fnmatch.filter(names, "gpu*.util_percent")):
        util = mean_of(samples, name)
        if util is not None and util >= 90:
            evidence.append(f"{name} {util:.0f}% on average")
            return True
    kv = mean_of(samples, "server.kv_cache_usage_ratio")
    if kv is not None and kv >= 0.9:
        evidence.append(f"server.kv_cache_usage_ratio {kv:.2f} on average")
        return True
    return False


def corroboration(
    name: str, growth: tuple[float, float] | None, corr: Sequence[Correlation], evidence: list[str]
) -> float:
    signs = 0.0
    if growth is not None and growth[1] >= 1.25 * growth[0] + 0.05:
        evidence.append(
            f"its share grew from {growth[0]:.0%} (first third of the run) to "
            f"{growth[1]:.0%} (last third)"
        )
        signs += 0.5
    patterns = SERIES_OF_CAUSE.get(name, ())
    for c in corr:
        if c.r >= 0.5 and any(fnmatch.fnmatch(c.series, p) for p in patterns):
            lead = f", leads by {c.lead_s:g} s" if c.lead_s > 0 else ""
            evidence.append(f"{c.series} rises with latency (r={c.r:.2f}{lead})")
            signs += 1.0 if c.r >= 0.7 else 0.5
            break
    return min(1.0, signs)


def telemetry_only_cause(corr: Sequence[Correlation], evidence: list[str]) -> str | None:
    """Without phases: the cause whose series rises with latency (r >= 0.7) and grows."""
    for c in corr:  # highest correlation first
        if c.r < TELEMETRY_ONLY_R or not c.slope_per_s or c.slope_per_s <= 0:
            continue
        for cause, patterns in SERIES_OF_CAUSE.items():
            if cause != "load_generator" and any(fnmatch.fnmatch(c.series, p) for p in patterns):
                evidence.append(
                    f"no phases reported: {c.series} rises with latency (r={c.r:.2f}) and grows "
                    f"{c.slope_per_s:.3g}/s"
                )
                return cause
    return None


def queue_growth_lines(corr: Sequence[Correlation], duration_s: float) -> list[str]:
    lines = []
    for c in corr:
        if c.series not in QUEUE_SERIES or c.slope_per_s is None:
            continue
        added = c.slope_per_s * duration_s
        if added >= max(1.0, 0.5 * abs(c.mean)):
            lines.append(
                f"{c.series} grows through the run: +{c.slope_per_s:.3g}/s "
                f"(+{added:.3g} over {duration_s:.0f} s, mean {c.mean:.3g})"
            )
    return lines


def mean_of(samples: Sequence[Sample], name: str) -> float | None:
    _, values = series(list(samples), name)
    return float(np.mean(values)) if values else None
