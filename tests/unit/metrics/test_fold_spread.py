"""The histograms of a run fill together; their folds must not all land on one request (that
held the event loop for milliseconds at 5,000/s), and the buffers must stay bounded."""

from __future__ import annotations

import numpy as np
import pytest

from agentload.analysis.summary import build_summary
from agentload.metrics import histogram as histogram_module
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.histogram import FLUSH_AT, LatencyHistogram
from agentload.records.record import Outcome, RequestRecord

MS = 1_000_000


def records(count: int, seed: int) -> list[RequestRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for seq in range(count):
        intended = seq * 200_000
        released = intended + int(rng.integers(0, 300_000))
        sent = released + int(rng.integers(0, 100_000))
        done = sent + int(rng.lognormal(14, 1.0))
        out.append(
            RequestRecord(
                seq=seq,
                worker=0,
                action="abc"[seq % 3],
                intended_at=intended,
                released_at=released,
                sent_at=sent,
                first_byte_at=sent + (done - sent) // 2,
                done_at=done,
                outcome=Outcome.OK,
            )
        )
    return out


def test_at_most_one_buffer_is_folded_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    folds: list[int] = []
    original = LatencyHistogram._fold

    def counting_fold(self: LatencyHistogram) -> None:
        if self.pending_ms:
            folds[-1] += 1
        original(self)

    monkeypatch.setattr(histogram_module.LatencyHistogram, "_fold", counting_fold)
    aggregator = RunAggregator()
    for record in records(12 * FLUSH_AT, seed=3):
        folds.append(0)
        aggregator.add(record)
        for h in aggregator._all_histograms():
            assert len(h.pending_ms) < FLUSH_AT  # bounded: no buffer ever reaches a full batch
    assert max(folds) == 1
    # The work is spread, not skipped: one fold every FLUSH_AT // 16 requests once the
    # buffers hold a quarter batch.
    assert sum(folds) >= (len(folds) - FLUSH_AT // 4) // (FLUSH_AT // 16)


def test_spread_folds_count_every_value() -> None:
    aggregator = RunAggregator()
    batch = records(5 * FLUSH_AT + 77, seed=4)
    for record in batch:
        aggregator.add(record)
    latency = aggregator.histograms["latency_ms"]
    assert latency.count == len(batch)
    expected = max((r.done_at - r.intended_at) / MS for r in batch)
    assert latency.percentiles_ms((100,))[0] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("count", [0, 1, 3 * FLUSH_AT + 5])
def test_buckets_allocated_before_the_load_change_no_figure(count: int) -> None:
    batch = records(count, seed=5)
    summaries = []
    for allocate in (False, True):
        aggregator = RunAggregator()
        if allocate:
            aggregator.allocate()
        for record in batch:
            aggregator.add(record)
        summaries.append(build_summary(aggregator, target_rate_per_s=None).to_dict())
    assert summaries[0] == summaries[1]
