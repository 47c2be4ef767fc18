"""Compare two runs: per metric, the change, its confidence interval and a verdict.

Metrics (names are what ``--tolerance NAME=5%`` takes; a prefix such as ``latency`` covers
every ``latency_*``): ``achieved_rate``, ``ok_rate`` and, when the runs' thresholds set
per-request objectives, ``goodput`` (per second, higher is better),
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

import numpy as np

from agentload.analysis import compare_replicates as rep
from agentload.analysis import compare_stats as st
from agentload.analysis.compare_attribution import attribute
from agentload.analysis.compare_result import Comparison, MetricChange, Verdict
from agentload.analysis.compare_samples import (
    BIN_NS,
    FloatArray,
    IntArray,
    PhaseSamples,
    RunSamples,
)
from agentload.errors import RunDirError

__all__ = ["Comparison", "MetricChange", "Verdict", "compare", "compare_sides"]

ALPHA: Final = 0.05
# Within-run intervals are stretched by this factor about the observed change, for the
# between-run variance they cannot see (module docstring). Calibrated with
# bench/compare_false_alarm.py: see docs/reports.md for the measurements.
BETWEEN_RUN_FACTOR: Final = 2.0
MIN_DURATION_S: Final = 1.0
MIN_SAMPLES: Final = 20
MIN_TAIL: Final = 5
DEFAULT_TOLERANCE = 0.05

Values = tuple[FloatArray, IntArray | None]  # samples in schedule order, resampling units


@dataclass(frozen=True, slots=True)
class _Spec:
    """A percentile metric: its name, p, and how to read its samples from a run."""

    name: str
    p: float
    values: Callable[[RunSamples], Values]


def check_compatible(base: RunSamples, new: RunSamples) -> None:
    """Runs against different protocols measure different things: refuse them."""
    a, b = base.meta.get("protocol"), new.meta.get("protocol")
    if a != b:
        raise RunDirError(f"cannot compare runs of different protocols: {a} vs {b}")


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
    """One run on each side."""
    return compare_sides([base], [new], tolerances=tolerances, seed=seed, resamples=resamples)


def compare_sides(
    bases: Sequence[RunSamples],
    news: Sequence[RunSamples],
    *,
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
    resamples: int = st.RESAMPLES,
) -> Comparison:
    """Each side one run or several replicate runs of one configuration
    (``compare_replicates`` has the statistics of the latter)."""
    if not bases or not news:
        raise ValueError("each side needs at least one run")
    for run in (*bases[1:], *news):
        check_compatible(bases[0], run)
    tolerances = tolerances or {}
    short = [
        r.path.name
        for r in (*bases, *news)
        if r.summary.duration_s is None or r.summary.duration_s < MIN_DURATION_S
    ]
    specs = _percentile_specs([*bases, *news])
    testable = [spec for spec in specs if _too_few(spec, bases, news) is None]
    with_goodput = any(r.objectives for r in (*bases, *news))
    confidence = 1 - ALPHA / max(3 + with_goodput + len(testable), 1)
    rng = np.random.default_rng(seed)
    single = len(bases) == 1 and len(news) == 1
    changes = _rate_metrics(bases[0], news[0], confidence) if single else []
    if not single:
        changes = _replicate_rate_metrics(bases, news, confidence)
    if with_goodput:
        changes.insert(2, _goodput_change(bases, news, confidence))
    for spec in specs:
        changes.append(_percentile_change(spec, bases, news, rng, confidence, resamples))
    if short:
        reason = f"run shorter than {MIN_DURATION_S:g} s: {', '.join(short)}"
        changes = [
            MetricChange(c.name, c.unit, c.base, c.new, "inconclusive", reason=reason)
            for c in changes
        ]
    final = tuple(_judge(c, tolerance_for(c.name, tolerances)) for c in changes)
    base_latency, new_latency = _pooled(bases), _pooled(news)
    attribution = {
        spec.name: attribute(base_latency, new_latency, spec.p)
        for spec in specs
        if spec.name.startswith("latency_p") and "[" not in spec.name
    }
    return Comparison(
        base_name=_side_name(bases),
        new_name=_side_name(news),
        confidence=confidence,
        metrics=final,
        attribution={k: v for k, v in attribution.items() if v},
        base_runs=len(bases),
        new_runs=len(news),
    )


def _side_name(runs: Sequence[RunSamples]) -> str:
    name = str(runs[0].meta.get("name", runs[0].path.name))
    return name if len(runs) == 1 else f"{name} (mean of {len(runs)} runs)"


def _pooled(runs: Sequence[RunSamples]) -> PhaseSamples:
    """Every run's ok requests one after the other (phases a run lacks are NaN)."""
    if len(runs) == 1:
        return runs[0].latency
    names = sorted({name for r in runs for name in r.latency.phases_ms})
    latency = np.concatenate([r.latency.latency_ms for r in runs])
    phases = {
        name: np.concatenate(
            [
                r.latency.phases_ms.get(name, np.full(len(r.latency.latency_ms), np.nan))
                for r in runs
            ]
        )
        for name in names
    }
    return PhaseSamples(latency_ms=latency, phases_ms=phases)


def _percentile_specs(runs: Sequence[RunSamples]) -> list[_Spec]:
    out = [
        _Spec(f"latency_p{p:g}", p, lambda r: (r.latency.latency_ms, None)) for p in (50, 90, 99)
    ]
    out += [_Spec(f"ttft_p{p:g}", p, lambda r: (r.ttft_ms, None)) for p in (50, 99)]
    out += [_Spec(f"itl_p{p:g}", p, lambda r: (r.itl_ms, r.itl_unit)) for p in (50, 99)]
    actions = sorted(set.intersection(*(set(r.per_action_ms) for r in runs)))
    if len(actions) > 1:
        for action in actions:
            for p in (50, 99):
                out.append(
                    _Spec(
                        f"latency_p{p:g}[{action}]",
                        p,
                        partial(_action_values, action),
                    )
                )
    return out


def _action_values(action: str, run: RunSamples) -> Values:
    return run.per_action_ms[action], None


def _too_few(spec: _Spec, bases: Sequence[RunSamples], news: Sequence[RunSamples]) -> str | None:
    for run in (*bases, *news):
        n = len(spec.values(run)[0])
        if n < MIN_SAMPLES:
            return f"fewer than {MIN_SAMPLES} samples"
        if n * (100 - spec.p) / 100 < MIN_TAIL:
            needed = math.ceil(MIN_TAIL * 100 / (100 - spec.p))
            return f"p{spec.p:g} needs at least {needed} samples, a run has {n}"
    return None


def _side_value(spec: _Spec, runs: Sequence[RunSamples]) -> float | None:
    """The percentile of one run, or the geometric mean of the runs' percentiles (the
    arithmetic one when one is zero)."""
    values = [spec.values(r)[0] for r in runs]
    if any(len(v) == 0 for v in values):
        return None
    percentiles = np.array([st.nearest_rank(v, spec.p) for v in values])
    if len(percentiles) > 1 and percentiles.min() > 0:
        return float(np.exp(np.log(percentiles).mean()))
    return float(percentiles.mean())


def _percentile_change(
    spec: _Spec,
    bases: Sequence[RunSamples],
    news: Sequence[RunSamples],
    rng: np.random.Generator,
    confidence: float,
    resamples: int,
) -> MetricChange:
    """The interval is of the ratio new / base (log scale) when every value is positive:
    run-to-run noise is multiplicative (a slower host stretches every latency), and a run
    whose latency climbed throughout (a growing queue) gets a wide interval in
    milliseconds that would otherwise swallow even a hundredfold change. It is reported as
    the matching interval of ``new - base`` in ms."""
    base, new = _side_value(spec, bases), _side_value(spec, news)
    reason = _too_few(spec, bases, news)
    if reason is not None:
        return MetricChange(spec.name, "ms", base, new, "inconclusive", reason=reason)
    assert base is not None and new is not None  # _too_few guarantees samples
    if len(bases) == 1 and len(news) == 1:
        (b_values, b_units), (n_values, n_units) = spec.values(bases[0]), spec.values(news[0])
        b = st.bootstrap_percentile(b_values, spec.p, rng, units=b_units, resamples=resamples)
        n = st.bootstrap_percentile(n_values, spec.p, rng, units=n_units, resamples=resamples)
        if min(b.min(), n.min(), base, new) > 0:
            ratio = st.percentile_interval(np.log(n) - np.log(b), confidence)
            ratio = st.widened(ratio, math.log(new / base), BETWEEN_RUN_FACTOR)
            interval = _from_ratio(base, ratio)
        else:
            interval = st.percentile_interval(n - b, confidence)
            interval = st.widened(interval, new - base, BETWEEN_RUN_FACTOR)
    else:
        stats = [
            [rep.percentile_statistic(spec.values(r), spec.p, rng, resamples) for r in runs]
            for runs in (bases, news)
        ]
        log = all(s.log_value is not None for side in stats for s in side)
        sides = [
            rep.side_estimate([s.on_log_scale() if log else s for s in side], BETWEEN_RUN_FACTOR)
            for side in stats
        ]
        interval = rep.difference_interval(sides[0], sides[1], confidence)
        if log:
            interval = _from_ratio(base, interval)
    return MetricChange(spec.name, "ms", base, new, "no change", interval.low, interval.high)


def _goodput_change(
    bases: Sequence[RunSamples], news: Sequence[RunSamples], confidence: float
) -> MetricChange:
    """Requests per second that met every per-request objective of the runs' thresholds
    (``analysis.goodput``); only comparable when every run had the same objectives."""
    runs = (*bases, *news)
    if len({r.objectives for r in runs}) > 1:
        reason = "the runs' thresholds set different per-request objectives"
        return MetricChange("goodput", "/s", None, None, "inconclusive", reason=reason)
    durations = [r.summary.duration_s for r in runs]
    if not all(durations):
        return MetricChange("goodput", "/s", None, None, "inconclusive", reason="no rate")
    sides = []
    for side in (bases, news):
        stats = []
        for r in side:
            assert r.summary.duration_s  # checked above
            stats.append(rep.rate_statistic(r.good, r.summary.duration_s, r.good_bins))
        sides.append(rep.side_estimate(stats, BETWEEN_RUN_FACTOR))
    iv = rep.difference_interval(sides[0], sides[1], confidence)
    return MetricChange("goodput", "/s", sides[0].mean, sides[1].mean, "no change", iv.low, iv.high)


def _from_ratio(base: float, log_ratio: st.Interval) -> st.Interval:
    """An interval of log(new / base) as the interval of new - base it implies."""
    return st.Interval(base * math.expm1(log_ratio.low), base * math.expm1(log_ratio.high))


def _replicate_rate_metrics(
    bases: Sequence[RunSamples], news: Sequence[RunSamples], confidence: float
) -> list[MetricChange]:
    out = []
    for name in ("achieved_rate", "ok_rate"):
        inputs = rep.rate_inputs(name)
        if any(not inputs(r)[1] for r in (*bases, *news)):
            out.append(MetricChange(name, "/s", None, None, "inconclusive", reason="no rate"))
            continue
        sides = []
        for runs in (bases, news):
            stats = []
            for r in runs:
                count, seconds, bins = inputs(r)
                assert seconds  # checked above
                stats.append(rep.rate_statistic(count, seconds, bins))
            sides.append(rep.side_estimate(stats, BETWEEN_RUN_FACTOR))
        iv = rep.difference_interval(sides[0], sides[1], confidence)
        out.append(
            MetricChange(name, "/s", sides[0].mean, sides[1].mean, "no change", iv.low, iv.high)
        )
    if any(r.summary.sent == 0 for r in (*bases, *news)):
        reason = "a run sent no request"
        out.append(MetricChange("error_rate", "ratio", None, None, "inconclusive", reason=reason))
        return out
    sides = [
        rep.side_estimate(
            [rep.error_rate_statistic(r.summary.error, r.summary.sent) for r in runs],
            BETWEEN_RUN_FACTOR,
        )
        for runs in (bases, news)
    ]
    iv = rep.difference_interval(sides[0], sides[1], confidence)
    out.append(
        MetricChange(
            "error_rate", "ratio", sides[0].mean, sides[1].mean, "no change", iv.low, iv.high
        )
    )
    return out


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
