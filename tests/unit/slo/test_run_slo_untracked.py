"""A run without thresholds does not feed its SLO tracker; its goodput comes from the summary.

The goodput block of summary.json must be the same as when every record went through the
goodput counter (every ok request good; a session good when all its requests were ok).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.goodput import GoodputCounter
from agentload.analysis.summary import build_summary
from agentload.config.thresholds import ThresholdSpec
from agentload.metrics.aggregate import RunAggregator
from agentload.records.record import Outcome, RequestRecord
from agentload.slo.tracking import RunSlo, goodput_without_objectives
from agentload.testing import make_record

S = 1_000_000_000


def test_only_thresholds_or_objectives_need_the_records() -> None:
    assert not RunSlo([]).tracks_records
    assert RunSlo([ThresholdSpec(expr="error_rate < 1%")]).tracks_records  # a gate, no objective
    assert RunSlo([ThresholdSpec(expr="p99(latency) < 2s")]).tracks_records


@st.composite
def runs(draw: st.DrawFn) -> list[RequestRecord]:
    out = []
    for seq in range(draw(st.integers(0, 40))):
        outcome = draw(st.sampled_from(list(Outcome)))
        at = draw(st.integers(0, 3 * S))
        out.append(
            make_record(
                seq=seq,
                action=draw(st.sampled_from(["chat", "search", "tool"])),
                session_id=draw(st.sampled_from([None, "s1", "s2", "s3"])),
                intended_at=at,
                sent_at=None if outcome == Outcome.DROPPED else at,
                first_byte_at=None,
                first_token_at=None,
                done_at=at + draw(st.integers(0, S)),
                outcome=outcome,
            )
        )
    return out


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(runs(), st.one_of(st.none(), st.floats(0.5, 10)))
def test_goodput_from_the_summary_is_what_the_counter_counts(
    records: list[RequestRecord], window_s: float | None
) -> None:
    aggregator, counter = RunAggregator(), GoodputCounter(())
    for record in records:
        aggregator.add(record)
        counter.add(record)
    summary = build_summary(aggregator, target_rate_per_s=None, load_window_s=window_s)
    want = counter.result(summary.duration_s, summary.per_action)
    assert goodput_without_objectives(summary).to_dict() == want.to_dict()
    completed = RunSlo([]).complete(summary)
    assert completed.goodput is not None
    assert completed.goodput.to_dict() == want.to_dict()
