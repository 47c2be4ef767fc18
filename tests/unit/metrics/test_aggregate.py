from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics.aggregate import RunAggregator, output_tokens_per_s
from agentload.records.record import ErrorKind, Outcome, RequestRecord

MS = 1_000_000  # ns


def make_record(
    seq: int, outcome: Outcome = Outcome.OK, *, action: str = "chat", **fields: Any
) -> RequestRecord:
    intended = fields.pop("intended_at", seq * 100 * MS)
    if outcome == Outcome.DROPPED:
        return RequestRecord(
            seq=seq,
            worker=0,
            action=action,
            intended_at=intended,
            done_at=intended,
            outcome=outcome,
        )
    defaults: dict[str, Any] = {
        "sent_at": intended + 2 * MS,
        "first_byte_at": intended + 20 * MS,
        "first_token_at": intended + 30 * MS,
        "done_at": intended + 130 * MS,
        "output_tokens": 11,
        "input_tokens": 5,
        "itl_ms": (10.0,) * 10,
    }
    if outcome == Outcome.ERROR:
        defaults["error_kind"] = ErrorKind.HTTP_5XX
    defaults.update(fields)
    return RequestRecord(
        seq=seq, worker=0, action=action, intended_at=intended, outcome=outcome, **defaults
    )


outcomes = st.lists(
    st.tuples(st.sampled_from(list(Outcome)), st.sampled_from(["chat", "search", "tool"])),
    max_size=60,
)


@settings(deadline=None, max_examples=40)
@given(outcomes)
def test_counts_add_up_exactly(mix: list[tuple[Outcome, str]]) -> None:
    aggregator = RunAggregator()
    for seq, (outcome, action) in enumerate(mix):
        aggregator.add(make_record(seq, outcome, action=action))
    a = aggregator
    assert a.requests == len(mix) == a.ok + a.error + a.dropped + a.cancelled
    assert a.sent == a.requests - a.dropped
    assert a.ok == sum(1 for o, _ in mix if o == Outcome.OK)
    assert sum(a.errors_by_kind.values()) == a.error
    assert sum(t.count for t in a.per_action.values()) == a.requests
    assert sum(t.ok for t in a.per_action.values()) == a.ok
    assert sum(t.error for t in a.per_action.values()) == a.error
    assert sum(t.dropped for t in a.per_action.values()) == a.dropped
    assert sum(t.cancelled for t in a.per_action.values()) == a.cancelled
    assert a.histograms["latency_ms"].count == a.ok
    assert a.histograms["itl_ms"].count == 10 * a.ok
    assert a.histograms["schedule_lag_ms"].count == a.sent
    assert a.error_latency.count == a.error


def test_ok_metrics_and_definitions() -> None:
    aggregator = RunAggregator()
    aggregator.add(make_record(0))
    h = aggregator.histograms
    assert h["latency_ms"].max_ms == pytest.approx(130.0)
    assert h["service_ms"].max_ms == pytest.approx(128.0)
    assert h["schedule_lag_ms"].max_ms == pytest.approx(2.0)
    assert h["ttft_ms"].max_ms == pytest.approx(30.0)
    assert h["ttfb_ms"].max_ms == pytest.approx(18.0)
    assert h["tpot_ms"].max_ms == pytest.approx(10.0)  # 100 ms over 10 tokens after the first
    # 10 tokens after the first, over the 100 ms from first token to done (1 / TPOT).
    assert h["output_tokens_per_s_per_request"].max_ms == pytest.approx(100.0)
    assert aggregator.output_tokens == 11 and aggregator.input_tokens == 5
    assert not aggregator.tokens_approx


def test_errors_stay_out_of_success_latency() -> None:
    aggregator = RunAggregator()
    aggregator.add(make_record(0, Outcome.ERROR, done_at=5 * MS, error_kind=ErrorKind.HTTP_429))
    aggregator.add(make_record(1, Outcome.ERROR, error_kind=None))
    assert aggregator.histograms["latency_ms"].count == 0
    assert aggregator.error_latency.count == 2
    assert aggregator.errors_by_kind == {"http_429": 1, "unknown": 1}
    assert aggregator.output_tokens == 0  # tokens count ok records only


def test_output_tokens_per_s_undefined_cases() -> None:
    assert output_tokens_per_s(make_record(0, first_token_at=None)) is None
    assert output_tokens_per_s(make_record(0, output_tokens=0)) is None
    assert output_tokens_per_s(make_record(0, done_at=30 * MS, first_token_at=30 * MS)) is None


def test_rates_and_windows() -> None:
    aggregator = RunAggregator()
    for seq in range(10):  # 10/s for one second; each answer takes 130 ms
        aggregator.add(make_record(seq, intended_at=seq * 100 * MS))
    aggregator.add(make_record(10, Outcome.DROPPED, intended_at=1000 * MS))
    assert aggregator.issue_window_s == pytest.approx(1.1)  # 11 arrivals at 10/s
    assert aggregator.offered_per_s == pytest.approx(10.0)
    # 10 sent over the 1.1 s window (the dropped one thins the sends, not their span)
    assert aggregator.achieved_per_s == pytest.approx(10 / 1.1)
    assert aggregator.duration_s == pytest.approx(1.03)  # last done: 900 ms + 130 ms


def test_achieved_rate_follows_actual_sends_not_the_schedule() -> None:
    # Scheduled at 10/s, but each send went out later and later (the generator fell behind):
    # the sends span 1.8 s instead of 0.9 s, so half the offered rate was achieved.
    aggregator = RunAggregator()
    for seq in range(10):
        intended = seq * 100 * MS
        aggregator.add(
            make_record(
                seq,
                intended_at=intended,
                sent_at=intended + seq * 100 * MS,
                done_at=intended + seq * 100 * MS + 50 * MS,
            )
        )
    assert aggregator.offered_per_s == pytest.approx(10.0)
    assert aggregator.achieved_per_s == pytest.approx(5.0)


def test_rates_are_none_for_an_empty_or_single_request_run() -> None:
    aggregator = RunAggregator()
    assert aggregator.duration_s is None and aggregator.achieved_per_s is None
    aggregator.add(make_record(0))
    assert aggregator.achieved_per_s is None and aggregator.offered_per_s is None
    assert aggregator.duration_s == pytest.approx(0.13)


def test_approximate_tokens_flag() -> None:
    aggregator = RunAggregator()
    aggregator.add(make_record(0, tokens_approx=True))
    assert aggregator.tokens_approx


def test_merge_equals_single_aggregator() -> None:
    records = [make_record(i, list(Outcome)[i % 4], action=f"a{i % 3}") for i in range(40)]
    whole, left, right = RunAggregator(), RunAggregator(), RunAggregator()
    for record in records:
        whole.add(record)
        (left if record.seq % 2 else right).add(record)
    left.merge(right)
    assert (left.requests, left.ok, left.error, left.dropped, left.cancelled) == (
        whole.requests,
        whole.ok,
        whole.error,
        whole.dropped,
        whole.cancelled,
    )
    assert left.errors_by_kind == whole.errors_by_kind
    assert left.first_intended_at == whole.first_intended_at
    assert left.last_done_at == whole.last_done_at
    assert left.histograms["itl_ms"].encode() == whole.histograms["itl_ms"].encode()
    assert {k: v.count for k, v in left.per_action.items()} == {
        k: v.count for k, v in whole.per_action.items()
    }
