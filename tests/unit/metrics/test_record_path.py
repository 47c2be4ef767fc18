"""The aggregator's hot path writes straight into histogram buffers and folds them every
``FLUSH_AT`` records: over many folds, every bucket and exact figure must equal recording
each value with hdrh, and the buffers must stay bounded."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics import histogram as histogram_module
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.histogram import (
    FLUSH_AT,
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    LatencyHistogram,
)
from agentload.metrics.window import RollingWindow
from agentload.records.record import ErrorKind, Outcome, RequestRecord

MS = 1_000_000


def run_records(count: int, seed: int) -> list[RequestRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for seq in range(count):
        intended = seq * 50_000
        roll = rng.random()
        outcome = Outcome.OK if roll < 0.9 else Outcome.ERROR if roll < 0.95 else Outcome.DROPPED
        if outcome is Outcome.DROPPED:
            out.append(
                RequestRecord(
                    seq=seq,
                    worker=0,
                    action="a",
                    intended_at=intended,
                    done_at=intended,
                    outcome=outcome,
                )
            )
            continue
        released = intended + int(rng.integers(0, 200_000))
        sent = released + int(rng.integers(0, 100_000))
        done = sent + int(rng.lognormal(15, 1.2))  # ~3 ms, with a long tail
        out.append(
            RequestRecord(
                seq=seq,
                worker=0,
                action="ab"[seq % 2],
                intended_at=intended,
                released_at=released,
                sent_at=sent,
                first_byte_at=sent + (done - sent) // 2,
                done_at=done,
                outcome=outcome,
                error_kind=ErrorKind.HTTP_5XX if outcome is Outcome.ERROR else None,
            )
        )
    return out


def hdr_of(values: list[float]) -> HdrHistogram:
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        hdr.record_value(min(max(round(value * 1000), LOWEST_US), HIGHEST_US))
    return hdr


def assert_matches(ours: LatencyHistogram, values: list[float]) -> None:
    assert ours.count == len(values)
    ours._fold()
    assert np.array_equal(ours._counts, np.ctypeslib.as_array(hdr_of(values).counts))
    assert (ours.min_ms, ours.max_ms) == (min(values), max(values))
    assert ours.mean_ms == pytest.approx(math.fsum(values) / len(values), rel=1e-12)


def test_many_folds_give_per_value_figures_and_bounded_buffers() -> None:
    records = run_records(5 * FLUSH_AT + 123, seed=1)
    aggregator = RunAggregator()
    for record in records:
        aggregator.add(record)
        for histogram in aggregator.histograms.values():
            assert len(histogram.pending_ms) < 2 * FLUSH_AT
    ok = [r for r in records if r.outcome is Outcome.OK]
    sent = [r for r in records if r.sent_at is not None]
    expected = {
        "latency_ms": [r.latency_ms for r in ok],
        "service_ms": [r.service_ms for r in ok],
        "ttfb_ms": [r.ttfb_ms for r in ok],
        "schedule_lag_ms": [r.schedule_lag_ms for r in sent],
        "scheduler_lag_ms": [r.scheduler_lag_ms for r in sent],
        "dispatch_lag_ms": [r.dispatch_lag_ms for r in sent],
    }
    for name, values in expected.items():
        assert_matches(aggregator.histograms[name], [v for v in values if v is not None])
    errors = [r.latency_ms for r in records if r.outcome is Outcome.ERROR]
    assert_matches(aggregator.error_latency, [v for v in errors if v is not None])
    for action in "ab":
        mine = [r.latency_ms for r in ok if r.action == action]
        assert_matches(aggregator.per_action[action].latency, [v for v in mine if v is not None])
    assert aggregator.requests == len(records)
    assert aggregator.ok + aggregator.error + aggregator.dropped == len(records)


def test_the_live_window_records_each_ok_latency_and_ttft() -> None:
    window = RollingWindow(window_s=10)
    records = run_records(3 * FLUSH_AT, seed=2)
    for record in records:
        window.add(record, now_ns=record.done_at)
    snapshot = window.snapshot(max(r.done_at for r in records))
    latencies = sorted(r.latency_ms for r in records if r.latency_ms and r.outcome is Outcome.OK)
    hdr = hdr_of(latencies)
    assert snapshot.ok == len(latencies)
    assert snapshot.latency_p99_ms == pytest.approx(
        min(hdr.get_value_at_percentile(99) / 1000, latencies[-1]), rel=1e-3
    )


_EDGES = sorted(
    {v for k in range(33) for v in (2**k - 1, 2**k, 2**k + 1) if LOWEST_US <= v <= HIGHEST_US}
    | {LOWEST_US, HIGHEST_US}
)


@settings(deadline=None)
@given(st.lists(st.integers(min_value=LOWEST_US, max_value=HIGHEST_US), max_size=100))
def test_bucket_indices_are_hdrh_s_own(values_us: list[int]) -> None:
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    every = [*values_us, *_EDGES]
    ours = histogram_module._indices(np.array(every, dtype=np.float64))
    assert ours.tolist() == [hdr.get_counts_array_index(v) for v in every]
