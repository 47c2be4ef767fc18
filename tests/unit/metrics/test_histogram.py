import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics.histogram import HIGHEST_US, LatencyHistogram

# 1 µs .. 1 h in ms, rounded to whole µs so HDR's integer recording is lossless.
latency_ms = st.integers(min_value=1, max_value=HIGHEST_US).map(lambda us: us / 1000)
samples = st.lists(latency_ms, min_size=1, max_size=300)
PERCENTILES = (0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9)


def hist_of(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record_ms(value)
    return histogram


def assert_close(actual: float | None, expected: float) -> None:
    # HDR with 3 significant digits: a bucket is < 0.1% wide; plus 1 µs of rounding.
    assert actual is not None
    assert abs(actual - expected) <= expected * 1e-3 + 1e-3, (actual, expected)


@settings(deadline=None)
@given(samples)
def test_percentiles_match_numpy_nearest_rank(values: list[float]) -> None:
    histogram = hist_of(values)
    ours = histogram.percentiles_ms(PERCENTILES)
    for p, value in zip(PERCENTILES, ours, strict=True):
        assert_close(value, float(np.percentile(values, p, method="inverted_cdf")))


@settings(deadline=None)
@given(samples)
def test_percentiles_stay_within_min_and_max(values: list[float]) -> None:
    histogram = hist_of(values)
    assert histogram.percentile_ms(0) == min(values)
    assert histogram.percentile_ms(100) == max(values)
    ours = histogram.percentiles_ms((0, *PERCENTILES, 100))
    assert all(v is not None and min(values) <= v <= max(values) for v in ours)
    assert ours == sorted(ours, key=lambda v: v or 0.0)  # non-decreasing in p


@settings(deadline=None)
@given(samples)
def test_exact_statistics(values: list[float]) -> None:
    histogram = hist_of(values)
    assert histogram.count == len(values)
    assert histogram.min_ms == min(values)
    assert histogram.max_ms == max(values)
    assert histogram.mean_ms == pytest.approx(float(np.mean(values)), rel=1e-9)
    assert histogram.stdev_ms == pytest.approx(float(np.std(values)), rel=1e-6, abs=1e-9)


@settings(deadline=None)
@given(samples, samples)
def test_merge_equals_histogram_of_concatenation(a: list[float], b: list[float]) -> None:
    merged = hist_of(a)
    merged.merge(hist_of(b))
    whole = hist_of(a + b)
    assert merged.count == whole.count
    assert merged.min_ms == whole.min_ms and merged.max_ms == whole.max_ms
    assert merged.mean_ms == pytest.approx(whole.mean_ms, rel=1e-9)
    assert merged.stdev_ms == pytest.approx(whole.stdev_ms, rel=1e-6, abs=1e-9)
    assert merged.percentiles_ms(PERCENTILES) == whole.percentiles_ms(PERCENTILES)
    assert merged.encode() == whole.encode()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=-5, max_value=5e6, allow_nan=False), max_size=200))
def test_record_many_equals_one_by_one(values: list[float]) -> None:
    batch = LatencyHistogram()
    batch.record_many_ms(values)
    single = hist_of(values)
    assert batch.encode() == single.encode()
    assert batch.count == single.count and batch.overflow == single.overflow
    assert batch.percentiles_ms(PERCENTILES) == single.percentiles_ms(PERCENTILES)
    if values:
        assert batch.mean_ms == pytest.approx(single.mean_ms, rel=1e-9, abs=1e-9)


def test_empty_histogram_reports_none() -> None:
    histogram = LatencyHistogram()
    assert histogram.count == 0
    assert histogram.min_ms is None and histogram.max_ms is None
    assert histogram.mean_ms is None and histogram.stdev_ms is None
    assert histogram.percentiles_ms((50, 99)) == [None, None]


def test_out_of_range_values_clamp_and_count_overflow() -> None:
    histogram = hist_of([0.0001, -3.0, 2 * 3_600_000.0])
    assert histogram.overflow == 1
    assert histogram.min_ms == -3.0  # exact stats keep the true values
    assert histogram.max_ms == 7_200_000.0
    assert histogram.percentile_ms(50) == pytest.approx(0.001)  # bucketed as 1 µs
    assert histogram.percentile_ms(100) == 7_200_000.0
    batch = LatencyHistogram()
    batch.record_many_ms([1e16, -1e16] + [5.0] * 20)  # beyond int64 µs
    assert batch.overflow == 1 and batch.count == 22
    assert batch.percentile_ms(99) == pytest.approx(3_600_000.0, rel=1e-3)


def test_rejects_non_finite_and_bad_percentiles() -> None:
    histogram = LatencyHistogram()
    with pytest.raises(ValueError):
        histogram.record_ms(math.nan)
    with pytest.raises(ValueError):
        histogram.record_many_ms([1.0] * 20 + [math.inf])
    with pytest.raises(ValueError):
        histogram.percentile_ms(101)


def test_p99_9_of_a_thousand_is_rank_999() -> None:
    histogram = hist_of([float(v) for v in range(1, 1001)])
    p99_9 = histogram.percentile_ms(99.9)
    assert p99_9 is not None and 999.0 <= p99_9 < 1000.0  # upper edge of 999's bucket


@settings(deadline=None)
@given(samples)
def test_encode_decode_round_trip(values: list[float]) -> None:
    histogram = hist_of(values)
    exact = LatencyHistogram.decode(histogram.encode(), histogram.stats)
    assert exact.count == histogram.count
    assert exact.min_ms == histogram.min_ms and exact.max_ms == histogram.max_ms
    assert exact.mean_ms == histogram.mean_ms
    assert exact.percentiles_ms(PERCENTILES) == histogram.percentiles_ms(PERCENTILES)
    rough = LatencyHistogram.decode(histogram.encode())
    assert rough.count == histogram.count
    assert_close(rough.min_ms, min(values))
    assert_close(rough.max_ms, max(values))
    assert_close(rough.mean_ms, float(np.mean(values)))


def test_decode_rejects_mismatched_stats() -> None:
    histogram = hist_of([1.0, 2.0])
    other = hist_of([1.0])
    with pytest.raises(ValueError):
        LatencyHistogram.decode(histogram.encode(), other.stats)
