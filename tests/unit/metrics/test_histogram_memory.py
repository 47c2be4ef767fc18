"""A histogram's buckets cost memory only where its values fall, and what it encodes is
exactly what hdrh itself encodes for the same values (any HDR reader gets the same blob)."""

from __future__ import annotations

import sys

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


def hdrh_blob(values: list[float]) -> str:
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        hdr.record_value(round(value * 1000))
    blob = hdr.encode()
    return blob.decode("ascii") if isinstance(blob, bytes) else str(blob)


@settings(deadline=None, max_examples=60)
@given(st.lists(latency_ms, max_size=200), st.lists(latency_ms, max_size=200))
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
    # 200 histograms of latencies between 2 and 3 ms: each writes 2 of its 44 pages of
    # buckets. Zeroing all the buckets (hdrh's own allocation) would hold 200 x 176 KiB.
    before = resident_kib()
    histograms = [LatencyHistogram() for _ in range(200)]
    for histogram in histograms:
        histogram.allocate()
        histogram.record_many_ms([2.0 + i / 100 for i in range(100)])
        histogram.fold()
    grown_kib = resident_kib() - before
    assert grown_kib < 200 * 176 // 4, f"{grown_kib} KiB for 200 histograms"
    assert all(h.percentile_ms(50) == pytest.approx(2.5, abs=0.01) for h in histograms)
