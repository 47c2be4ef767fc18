"""BatchedSinks hands every record to every sink, in order, and holds at most a batch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.engine.sinks import BatchedSinks
from agentload.records.record import Outcome, RequestRecord


class Seen:
    def __init__(self) -> None:
        self.seqs: list[int] = []

    def add(self, record: RequestRecord) -> None:
        self.seqs.append(record.seq)


def record(seq: int) -> RequestRecord:
    return RequestRecord(
        seq=seq, worker=0, action="a", intended_at=seq, done_at=seq + 1, outcome=Outcome.OK
    )


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.one_of(st.just("flush"), st.integers(0, 40)), max_size=60),
    size=st.integers(1, 17),
)
def test_every_sink_sees_every_record_in_order_and_none_waits_past_a_batch(
    steps: list[str | int], size: int
) -> None:
    sinks = [Seen(), Seen(), Seen()]
    batched = BatchedSinks(sinks, size=size)
    added: list[int] = []
    for step in steps:
        if step == "flush":
            batched.flush()
            assert batched.waiting == 0
            for sink in sinks:
                assert sink.seqs == added  # after a flush, everything so far
            continue
        assert isinstance(step, int)
        for _ in range(step):
            seq = len(added)
            batched.add(record(seq))
            added.append(seq)
            assert batched.waiting < size  # a full batch is handed over at once
            for sink in sinks:
                assert sink.seqs == added[: len(added) - batched.waiting]
    batched.flush()
    for sink in sinks:
        assert sink.seqs == added


class SeenInBatches(Seen):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def add_many(self, records: list[RequestRecord]) -> None:
        self.batches.append(len(records))
        self.seqs += [r.seq for r in records]


def test_a_sink_with_add_many_takes_each_batch_in_one_call() -> None:
    one, many = Seen(), SeenInBatches()
    batched = BatchedSinks([one, many], size=4)
    for seq in range(10):
        batched.add(record(seq))
    batched.flush()
    assert one.seqs == many.seqs == list(range(10))
    assert many.batches == [4, 4, 2]
