"""What ``summary.json`` keeps beside a bottleneck verdict, and its per-load-step evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentload.analysis.attribution import WindowSeries, causes_of, load_steps
from agentload.analysis.attribution_series import Correlation


def fold_causes(causes: dict[str, float], strained: bool) -> dict[str, float]:
    """Causes with the generator's part folded: a strained generator owns the time outside
    the server too (a starved client reads answers late); otherwise schedule lag is client
    time like any other."""
    out = dict(causes)
    lag = out.pop("load_generator", 0.0)
    if strained:
        out["load_generator"] = lag + out.pop("network_or_client", 0.0)
    else:
        out["network_or_client"] = out.get("network_or_client", 0.0) + lag
    return out


def step_causes(
    timeline: WindowSeries, strained: bool
) -> list[tuple[float, int, dict[str, float]]]:
    """(offered rate per s, windows, cause shares) per load step; [] for one load level."""
    return [
        (step.due_per_s, step.windows, fold_causes(causes_of(step.shares), strained))
        for step in load_steps(timeline)
    ]


def load_step_line(name: str, timeline: WindowSeries, strained: bool) -> str | None:
    """E.g. "inference_queue share by offered load: 4% at 10/s, 61% at 40/s"; None for one
    load level."""
    steps = step_causes(timeline, strained)
    if not steps:
        return None
    parts = ", ".join(f"{causes.get(name, 0.0):.0%} at {rate:.3g}/s" for rate, _, causes in steps)
    return f"{name} share by offered load: {parts}"


def run_details(
    shares: Mapping[str, float],
    tail: Mapping[str, float],
    scores_all: Mapping[str, float],
    scores_tail: Mapping[str, float],
    timeline: WindowSeries,
    corr: Sequence[Correlation],
    strained: bool,
) -> dict[str, Any]:
    def rounded(values: Mapping[str, float]) -> dict[str, float]:
        return {k: round(v, 4) for k, v in sorted(values.items())}

    return {
        "causes": {"all": rounded(scores_all), "tail": rounded(scores_tail)},
        "components": {"all": rounded(shares), "tail": rounded(tail)},
        "windows": {
            "window_s": timeline.window_s,
            "start_s": list(timeline.start_s),
            "due": list(timeline.due),
            "count": list(timeline.count),
            "latency_mean_ms": [
                None if v is None else round(v, 3) for v in timeline.latency_mean_ms
            ],
            "shares": {
                k: [None if v is None else round(v, 4) for v in vs]
                for k, vs in sorted(timeline.shares.items())
            },
        },
        "load_steps": [
            {"due_per_s": round(rate, 3), "windows": n, "causes": rounded(causes)}
            for rate, n, causes in step_causes(timeline, strained)
        ],
        "correlations": [c.to_dict() for c in corr[:8]],
    }
