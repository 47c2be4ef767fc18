"""Replicate runs per side: the between-run spread is measured, never assumed away."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as hs

from agentload.analysis.compare import BETWEEN_RUN_FACTOR, compare, compare_sides
from agentload.analysis.compare_replicates import (
    RunStatistic,
    difference_interval,
    error_rate_statistic,
    side_estimate,
)
from agentload.analysis.compare_samples import load_run_samples
from tests.unit.analysis.test_compare import make_run

values = hs.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
variances = hs.floats(min_value=1e-6, max_value=1e6, allow_nan=False)
runs = hs.lists(hs.tuples(values, variances), min_size=1, max_size=8)


@given(runs)
def test_a_side_is_never_bolder_than_its_averaging_allows(pairs: list[tuple[float, float]]) -> None:
    stats = [RunStatistic(v, w) for v, w in pairs]
    side = side_estimate(stats, BETWEEN_RUN_FACTOR)
    k = len(stats)
    within = float(np.mean([w for _, w in pairs]))
    assert side.mean == np.mean([v for v, _ in pairs])
    # at least the single-run assumption (F² × within), divided by the runs averaged
    assert side.variance >= BETWEEN_RUN_FACTOR**2 * within / k * (1 - 1e-9)
    if k > 1:  # and at least what the runs' own spread says
        spread = float(np.var([v for v, _ in pairs], ddof=1))
        assert side.variance >= spread / k * (1 - 1e-9)


def test_one_run_per_side_matches_the_single_run_assumption() -> None:
    side = side_estimate([RunStatistic(10.0, 4.0)], BETWEEN_RUN_FACTOR)
    assert side.variance == BETWEEN_RUN_FACTOR**2 * 4.0
    interval = difference_interval(side, side_estimate([RunStatistic(12.0, 4.0)], 2.0), 0.95)
    assert interval.low < 2.0 < interval.high


def test_disagreeing_replicates_widen_the_interval() -> None:
    steady = [RunStatistic(100.0, 1.0), RunStatistic(101.0, 1.0)]
    swinging = [RunStatistic(100.0, 1.0), RunStatistic(160.0, 1.0)]
    other = side_estimate([RunStatistic(100.0, 1.0), RunStatistic(100.5, 1.0)], 2.0)
    narrow = difference_interval(side_estimate(steady, 2.0), other, 0.95)
    wide = difference_interval(side_estimate(swinging, 2.0), other, 0.95)
    assert wide.high - wide.low > 5 * (narrow.high - narrow.low)
    assert side_estimate(swinging, 2.0).measured_between > 0


def test_error_rate_variance_is_positive_with_no_errors() -> None:
    stat = error_rate_statistic(0, 100)
    assert stat.value == 0 and stat.variance > 0


def test_a_slow_host_during_one_run_is_not_called_a_change(tmp_path: Path) -> None:
    """Base = a normal run and one run on a host 40% slower; new = two normal runs. One pair
    (the slow run against a normal one) calls it an improvement; the replicates see that the
    base side itself disagrees and call it no change."""
    slow = load_run_samples(make_run(tmp_path / "b0", 1, n=3000, scale_ms=70.0, error_p=0))
    base = [slow, load_run_samples(make_run(tmp_path / "b1", 2, n=3000, error_p=0))]
    new = [load_run_samples(make_run(tmp_path / f"n{i}", 3 + i, n=3000, error_p=0)) for i in (0, 1)]
    single = {m.name: m for m in compare(slow, new[0], seed=1).metrics}
    assert single["latency_p50"].verdict == "improved"
    result = compare_sides(base, new, seed=1)
    by_name = {m.name: m for m in result.metrics}
    assert by_name["latency_p50"].verdict == "no change", by_name["latency_p50"]
    assert result.base_runs == result.new_runs == 2
    assert "mean of 2 runs" in result.base_name
    b0, b1 = (float(np.percentile(r.latency.latency_ms, 50)) for r in base)
    assert by_name["latency_p50"].base is not None
    assert abs(by_name["latency_p50"].base - (b0 + b1) / 2) < 1.0  # the mean of the runs


def test_a_real_change_is_still_found_with_replicates(tmp_path: Path) -> None:
    base = [load_run_samples(make_run(tmp_path / f"b{i}", i, queue_ms=40.0)) for i in (1, 2)]
    new = [load_run_samples(make_run(tmp_path / f"n{i}", 10 + i)) for i in (1, 2)]
    result = compare_sides(base, new, seed=2)
    by_name = {m.name: m for m in result.metrics}
    for name in ("latency_p50", "latency_p90", "latency_p99"):
        assert by_name[name].verdict == "improved", by_name[name]
    assert result.attribution["latency_p99"][0].phase == "queue"
    assert by_name["error_rate"].verdict == "no change"
