"""A histogram's buckets cost memory only where its values fall, and what it encodes is
exactly what hdrh itself encodes for the same values (any HDR reader gets the same blob)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics.histogram import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    LatencyHistogram,
)

latency_ms = st.integers(min_value=1, max_value=HIGHEST_US).map(lambda us: us / 1000)
# Also below 1 µs (negative included) and above an hour: both are clamped into range.
any_ms = latency_ms | st.floats(min_value=-10.0, max_value=0.0015) | st.floats(3.6e6, 1e9)


def hdrh_blob(values: list[float]) -> str:
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        hdr.record_value(min(max(round(value * 1000), LOWEST_US), HIGHEST_US))
    blob = hdr.encode()
    return blob.decode("ascii") if isinstance(blob, bytes) else str(blob)


@settings(deadline=None, max_examples=60)
@given(st.lists(any_ms, max_size=200), st.lists(any_ms, max_size=200))
def test_the_blob_is_hdrh_s_own_encoding_of_the_same_values(a: list[float], b: list[float]) -> None:
    first, second = LatencyHistogram(), LatencyHistogram()
    first.record_many_ms(a)
    second.record_many_ms(b)
    assert first.encode() == hdrh_blob(a)
    first.merge(second)
    assert first.encode() == hdrh_blob(a + b)
    assert LatencyHistogram.decode(first.encode()).encode() == hdrh_blob(a + b)


def resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_histograms_hold_only_the_pages_their_values_fall_in() -> None:
    # 200 histograms of latencies between 2 and 3 ms: each writes 2 of its 46 pages of
    # buckets. Zeroing all the buckets (hdrh's own allocation) would hold 200 x 184 KiB.
    before = resident_kib()
    histograms = [LatencyHistogram() for _ in range(200)]
    for histogram in histograms:
        histogram.allocate()
        histogram.record_many_ms([2.0 + i / 100 for i in range(100)])
        histogram.fold()
    grown_kib = resident_kib() - before
    assert grown_kib < 200 * 184 // 4, f"{grown_kib} KiB for 200 histograms"
    assert all(h.percentile_ms(50) == pytest.approx(2.5, abs=0.01) for h in histograms)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_records_into_its_own_copy() -> None:
    # The buckets are a private mapping: a child's values never reach the parent's buckets.
    histogram = LatencyHistogram()
    histogram.record_many_ms([1.0, 100.0])
    histogram.fold()
    pid = os.fork()
    if pid == 0:  # the child: record, fold, leave without cleanup
        histogram.record_many_ms([50.0] * 10)
        histogram.fold()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert histogram.count == 2 and histogram.percentile_ms(50) == pytest.approx(1.0, rel=1e-3)
    assert LatencyHistogram.decode(histogram.encode(), histogram.stats).count == 2


def test_huge_finite_values_are_clamped_not_lost() -> None:
    # A finite value whose microseconds overflow a double is an hour in the buckets and
    # counted as overflow; the batch it came with is kept.
    histogram = LatencyHistogram()
    histogram.record_many_ms([1.0, 1e306, -5.0, 0.0004])
    with np.errstate(over="ignore"):
        assert histogram.count == 4 and histogram.overflow == 1
        assert histogram.percentile_ms(50) == pytest.approx(0.001)  # the two clamped to 1 µs
        assert histogram.encode() == hdrh_blob([HIGHEST_US / 1000, 1.0, 0.001, 0.001])
