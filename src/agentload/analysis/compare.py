"""Compare two runs: per metric, the change, its confidence interval and a verdict.

Metrics (names are what ``--tolerance NAME=5%`` takes; a prefix such as ``latency`` covers
every ``latency_*``): ``achieved_rate`` and ``ok_rate`` (per second, higher is better),
``error_rate`` (errors / sent), ``latency_p50|p90|p99``, ``ttft_p50|p99``, ``itl_p50|p99``
and, with more than one action, ``latency_p50|p99[ACTION]`` (lower is better).

Verdicts: ``inconclusive`` when a run is shorter than ``MIN_DURATION_S`` or a percentile has
fewer than ``MIN_TAIL`` samples beyond it (p99 needs 500) or fewer than ``MIN_SAMPLES`` in all;
otherwise ``improved`` / ``regressed`` when the interval of the difference excludes zero and
the relative change is beyond the metric's tolerance, else ``no change``.

Two runs of one configuration differ by more than their within-run intervals say: a whole
run can be shifted (another job on the host, a warmer cache, a different CPU frequency), and
no resampling of one run's requests can see that. So every interval (``compare_stats``:
20-block bootstrap for percentiles, batch-means for rates) is widened by
``BETWEEN_RUN_FACTOR`` (2) about the observed change, i.e. the between-run variance is taken
as three times the within-run variance. A factor rather than a fixed per-metric tolerance
keeps the comparison sharp where runs are steady (a narrow within-run interval stays
narrow) and cautious where they are noisy. It was calibrated with
``bench/compare_false_alarm.py`` on a shared 2-core host, where consecutive 2-second runs
of one configuration moved TTFT p50 by up to 114% and throughput by up to 25%: see
docs/reports.md for the measured false-alarm rates. The default tolerance,
``DEFAULT_TOLERANCE`` (5%), is the smallest change reported at all, so that a significant
but negligible shift (0.8% in ITL) is not called a regression; ``--tolerance NAME=0%`` asks
for any significant change.
Intervals are Bonferroni-corrected over the tested metrics so that the chance of any false
alarm in one comparison stays near ``ALPHA`` (5%) when the noise model holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from agentload.analysis import compare_stats as st
from agentload.analysis.compare_attribution import PhaseChange, attribute
from agentload.analysis.compare_samples import BIN_NS, FloatArray, IntArray, RunSamples
from agentload.errors import RunDirError

ALPHA: Final = 0.05
# Within-run intervals are stretched by this factor about the observed change, for the
# between-run variance they cannot see (module docstring). Calibrated with
# bench/compare_false_alarm.py: see docs/reports.md for the measurements.
BETWEEN_RUN_FACTOR: Final = 2.0
MIN_DURATION_S: Final = 1.0
MIN_SAMPLES: Final = 20
MIN_TAIL: Final = 5
Verdict = Literal["improved", "regressed", "no change", "inconclusive"]


@dataclass(frozen=True, slots=True)
class MetricChange:
    name: str
    unit: str  # "ms", "/s" or "ratio"
    base: float | None
    new: float | None
    verdict: Verdict
    ci_low: float | None = None  # interval of new - base, in the metric's unit
    ci_high: float | None = None
    reason: str = ""  # why inconclusive

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def relative(self) -> float | None:
        delta = self.delta
        return None if delta is None or not self.base else delta / abs(self.base)


@dataclass(frozen=True, slots=True)
class Comparison:
    base_name: str
    new_name: str
    confidence: float  # of each interval, after the Bonferroni correction
    metrics: tuple[MetricChange, ...]
    attribution: Mapping[str, tuple[PhaseChange, ...]] = field(default_factory=dict)

    @property
    def regressions(self) -> tuple[MetricChange, ...]:
        return tuple(m for m in self.metrics if m.verdict == "regressed")


@dataclass(frozen=True, slots=True)
class _Percentile:
    name: str
    p: float
    base: FloatArray
    new: FloatArray
    base_units: IntArray | None = None
    new_units: IntArray | None = None


def check_compatible(base: RunSamples, new: RunSamples) -> None:
    """Runs against different protocols measure different things: refuse them."""
    a, b = base.meta.get("protocol"), new.meta.get("protocol")
    if a != b:
        raise RunDirError(f"cannot compare runs of different protocols: {a} vs {b}")


DEFAULT_TOLERANCE = 0.05


def tolerance_for(name: str, tolerances: Mapping[str, float]) -> float:
    if name in tolerances:
        return tolerances[name]
    family = name.split("[")[0]
    for key in (family, family.split("_")[0]):
        if key in tolerances:
            return tolerances[key]
    return DEFAULT_TOLERANCE


def compare(
    base: RunSamples,
    new: RunSamples,
    *,
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
    resamples: int = st.RESAMPLES,
) -> Comparison:
    check_compatible(base, new)
    tolerances = tolerances or {}
    short = [
        r.path.name
        for r in (base, new)
        if r.summary.duration_s is None or r.summary.duration_s < MIN_DURATION_S
    ]
    percentiles = _percentile_metrics(base, new)
    tested = 3 + sum(1 for m in percentiles if _too_few(m) is None)
    confidence = 1 - ALPHA / max(tested, 1)
    rng = np.random.default_rng(seed)
    changes = [*_rate_metrics(base, new, confidence)]
    for metric in percentiles:
        changes.append(_percentile_change(metric, rng, confidence, resamples))
    if short:
        reason = f"run shorter than {MIN_DURATION_S:g} s: {', '.join(short)}"
        changes = [
            MetricChange(c.name, c.unit, c.base, c.new, "inconclusive", reason=reason)
            for c in changes
        ]
    final = tuple(_judge(c, tolerance_for(c.name, tolerances)) for c in changes)
    attribution = {
        m.name: attribute(base.latency, new.latency, m.p)
        for m in percentiles
        if m.name.startswith("latency_p") and "[" not in m.name
    }
    return Comparison(
        base_name=str(base.meta.get("name", base.path.name)),
        new_name=str(new.meta.get("name", new.path.name)),
        confidence=confidence,
        metrics=final,
        attribution={k: v for k, v in attribution.items() if v},
    )


def _percentile_metrics(base: RunSamples, new: RunSamples) -> list[_Percentile]:
    out = [
        _Percentile(f"latency_p{p:g}", p, base.latency.latency_ms, new.latency.latency_ms)
        for p in (50, 90, 99)
    ]
    out += [_Percentile(f"ttft_p{p:g}", p, base.ttft_ms, new.ttft_ms) for p in (50, 99)]
    out += [
        _Percentile(f"itl_p{p:g}", p, base.itl_ms, new.itl_ms, base.itl_unit, new.itl_unit)
        for p in (50, 99)
    ]
    actions = sorted(set(base.per_action_ms) & set(new.per_action_ms))
    if len(actions) > 1:
        for action in actions:
            for p in (50, 99):
                out.append(
                    _Percentile(
                        f"latency_p{p:g}[{action}]",
                        p,
                        base.per_action_ms[action],
                        new.per_action_ms[action],
                    )
                )
    return out


def _too_few(metric: _Percentile) -> str | None:
    for values in (metric.base, metric.new):
        if len(values) < MIN_SAMPLES:
            return f"fewer than {MIN_SAMPLES} samples"
        if len(values) * (100 - metric.p) / 100 < MIN_TAIL:
            needed = math.ceil(MIN_TAIL * 100 / (100 - metric.p))
            return f"p{metric.p:g} needs at least {needed} samples, a run has {len(values)}"
    return None


def _percentile_change(
    metric: _Percentile, rng: np.random.Generator, confidence: float, resamples: int
) -> MetricChange:
    base = st.nearest_rank(metric.base, metric.p) if len(metric.base) else None
    new = st.nearest_rank(metric.new, metric.p) if len(metric.new) else None
    reason = _too_few(metric)
    if reason is not None:
        return MetricChange(metric.name, "ms", base, new, "inconclusive", reason=reason)
    b = st.bootstrap_percentile(
        metric.base, metric.p, rng, units=metric.base_units, resamples=resamples
    )
    n = st.bootstrap_percentile(
        metric.new, metric.p, rng, units=metric.new_units, resamples=resamples
    )
    interval = st.percentile_interval(n - b, confidence)
    assert base is not None and new is not None  # _too_few guarantees samples
    interval = st.widened(interval, new - base, BETWEEN_RUN_FACTOR)
    return MetricChange(metric.name, "ms", base, new, "no change", interval.low, interval.high)


def _rate_metrics(base: RunSamples, new: RunSamples, confidence: float) -> list[MetricChange]:
    out = []
    a, b = base.summary, new.summary
    rate_inputs = (
        (
            "achieved_rate",
            a.sent,
            a.window_s,
            a.achieved_per_s,
            b.sent,
            b.window_s,
            b.achieved_per_s,
        ),
        ("ok_rate", a.ok, a.duration_s, a.ok_per_s, b.ok, b.duration_s, b.ok_per_s),
    )
    bins = {
        "achieved_rate": (base.sent_bins, new.sent_bins),
        "ok_rate": (base.ok_bins, new.ok_bins),
    }
    for name, c1, t1, r1, c2, t2, r2 in rate_inputs:
        if not t1 or not t2 or r1 is None or r2 is None:
            out.append(MetricChange(name, "/s", r1, r2, "inconclusive", reason="no rate"))
            continue
        se1, se2 = (st.window_rate_se(b) for b in bins[name])
        iv = st.poisson_rate_difference(
            c1,
            t1,
            c2,
            t2,
            confidence,
            base_se=None if se1 is None else se1 * 1e9 / BIN_NS,
            new_se=None if se2 is None else se2 * 1e9 / BIN_NS,
        )
        iv = st.widened(iv, c2 / t2 - c1 / t1, BETWEEN_RUN_FACTOR)
        # The interval is of count/T; shift it onto the reported rates' difference.
        shift = (r2 - r1) - (c2 / t2 - c1 / t1)
        out.append(MetricChange(name, "/s", r1, r2, "no change", iv.low + shift, iv.high + shift))
    if a.sent and b.sent:
        iv = st.proportion_difference(a.error, a.sent, b.error, b.sent, confidence)
        iv = st.widened(iv, (iv.low + iv.high) / 2, BETWEEN_RUN_FACTOR)
        out.append(
            MetricChange(
                "error_rate",
                "ratio",
                a.error / a.sent,
                b.error / b.sent,
                "no change",
                iv.low,
                iv.high,
            )
        )
    else:
        out.append(
            MetricChange(
                "error_rate", "ratio", None, None, "inconclusive", reason="no request was sent"
            )
        )
    return out


def _judge(change: MetricChange, tolerance: float) -> MetricChange:
    if change.verdict == "inconclusive" or change.ci_low is None or change.ci_high is None:
        return change
    higher_is_better = change.unit == "/s"
    if not st.Interval(change.ci_low, change.ci_high).excludes_zero():
        return change
    delta = change.delta or 0.0
    relative = change.relative
    if relative is not None and abs(relative) <= tolerance:
        return change
    better = delta > 0 if higher_is_better else delta < 0
    verdict: Verdict = "improved" if better else "regressed"
    return MetricChange(
        change.name, change.unit, change.base, change.new, verdict, change.ci_low, change.ci_high
    )
