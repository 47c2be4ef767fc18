"""Compare sides made of several runs each: ``agentload compare B1,B2 N1,N2``.

Two single runs cannot separate a host that changed speed between them from a real change;
the single-run comparison (``compare.py``) can only assume a between-run variance (three
times the within-run one). Replicate runs measure it. Per metric and per run ``i`` of a side:
the run's statistic ``x_i`` (a percentile, a rate, the error rate) and its within-run
variance ``v_i`` (the variance of the block-bootstrap replicates for a percentile, the
squared batch-means / Poisson standard error for a rate, the Agresti variance for the error
rate). A side's value is the mean of its runs' statistics, and its variance is

    (mean(v) + tau2) / k,  tau2 = max(s2 - mean(v), (F**2 - 1) * mean(v))

with ``k`` runs, ``s2`` the sample variance of the ``x_i`` (zero for one run) and ``F`` the
single-run widening factor: the between-run variance is the larger of the one measured
(the method-of-moments estimate of a random-effects model, as in DerSimonian-Laird with
equal weights) and the assumption a single pair uses. So replicates never make a comparison
bolder than its own averaging allows, and replicates that disagree (one run on a slow host)
widen it. The interval of ``new - base`` is normal, at the Bonferroni-corrected confidence.
Percentiles are combined on the log scale (a side's value is the geometric mean of its runs'
percentiles; the interval is of the ratio, reported in ms), as in the single-run comparison.
With one run on each side ``compare.compare`` keeps its bootstrap percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agentload.analysis import compare_stats as st
from agentload.analysis.compare_samples import BIN_NS, FloatArray, IntArray, RunSamples


@dataclass(frozen=True, slots=True)
class RunStatistic:
    value: float
    variance: float  # within the run
    # A percentile's log and the variance of its replicates' logs (None when one is zero).
    log_value: float | None = None
    log_variance: float | None = None

    def on_log_scale(self) -> RunStatistic:
        assert self.log_value is not None and self.log_variance is not None
        return RunStatistic(self.log_value, self.log_variance)


@dataclass(frozen=True, slots=True)
class SideEstimate:
    mean: float
    variance: float  # of the mean, between-run variance included
    measured_between: float  # s2 - mean(v), the between-run variance the runs showed


def side_estimate(stats: Sequence[RunStatistic], widen_factor: float) -> SideEstimate:
    """Combine one side's runs (see the module docstring)."""
    if not stats:
        raise ValueError("a side needs at least one run")
    k = len(stats)
    values = np.array([s.value for s in stats], dtype=np.float64)
    within = float(np.mean([s.variance for s in stats]))
    spread = float(values.var(ddof=1)) if k > 1 else 0.0
    measured = spread - within
    between = max(measured, (widen_factor**2 - 1) * within)
    return SideEstimate(float(values.mean()), (within + between) / k, measured)


def difference_interval(base: SideEstimate, new: SideEstimate, confidence: float) -> st.Interval:
    centre = new.mean - base.mean
    half = st.z_value(confidence) * math.sqrt(base.variance + new.variance)
    return st.Interval(centre - half, centre + half)


def percentile_statistic(
    samples: tuple[FloatArray, IntArray | None],
    p: float,
    rng: np.random.Generator,
    resamples: int,
) -> RunStatistic:
    """A run's p-th percentile and the variance of its block-bootstrap replicates."""
    values, units = samples
    replicates = st.bootstrap_percentile(values, p, rng, units=units, resamples=resamples)
    value = st.nearest_rank(values, p)
    if value <= 0 or replicates.min() <= 0:
        return RunStatistic(value, float(replicates.var(ddof=1)))
    logs = np.log(replicates)
    return RunStatistic(
        value, float(replicates.var(ddof=1)), math.log(value), float(logs.var(ddof=1))
    )


def rate_statistic(count: int, seconds: float, bins: IntArray) -> RunStatistic:
    """count/seconds with the larger of the Poisson and batch-means standard errors."""
    poisson_se = math.sqrt(max(count, 1)) / seconds
    window_se = st.window_rate_se(bins)
    se = max(poisson_se, 0.0 if window_se is None else window_se * 1e9 / BIN_NS)
    return RunStatistic(count / seconds, se**2)


def error_rate_statistic(errors: int, sent: int) -> RunStatistic:
    """errors/sent with the Agresti-Caffo variance (one error and one success added)."""
    p = (errors + 1) / (sent + 2)
    return RunStatistic(errors / sent, p * (1 - p) / (sent + 2))


RateInputs = Callable[[RunSamples], tuple[int, float | None, IntArray]]


def rate_inputs(name: str) -> RateInputs:
    """(count, seconds, bins) of a run for ``achieved_rate`` or ``ok_rate``."""
    if name == "achieved_rate":
        return lambda r: (r.summary.sent, r.summary.window_s, r.sent_bins)
    return lambda r: (r.summary.ok, r.summary.duration_s, r.ok_bins)
