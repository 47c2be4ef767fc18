"""Session totals per persona, and shards of one run merging into the same totals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics.aggregate import RunAggregator
from agentload.records.record import ErrorKind, Outcome, RequestRecord

PERSONAS = ("browser", "buyer")


def record(seq: int, session: int, turn: int, persona: str, ok: bool, slow: bool) -> RequestRecord:
    start = seq * 1_000_000
    return RequestRecord(
        seq=seq,
        worker=0,
        action="turn",
        intended_at=start,
        sent_at=start,
        done_at=start + (seq % 7 + 1) * 3_000_000,
        outcome=Outcome.OK if ok else Outcome.ERROR,
        error_kind=None if ok else ErrorKind.CONTEXT_LOST,
        session_id=f"s{session}",
        turn=turn,
        persona=persona,
        slow=slow and ok,
        input_tokens=10 * (turn + 1),
    )


RECORDS = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 4), st.booleans(), st.booleans()),
    min_size=1,
    max_size=60,
).map(
    lambda rows: [
        record(i, s, t, PERSONAS[s % 2], ok, slow) for i, (s, t, ok, slow) in enumerate(rows)
    ]
)


@settings(max_examples=50, deadline=None)
@given(RECORDS, st.integers(0, 60))
def test_shards_merge_to_the_whole(records: list[RequestRecord], cut: int) -> None:
    whole, first, second = RunAggregator(), RunAggregator(), RunAggregator()
    for i, r in enumerate(records):
        whole.add(r)
        (first if i < cut else second).add(r)
    first.merge(second)
    assert first.slow == whole.slow == sum(r.slow for r in records)
    assert first.sessions.to_dict() == whole.sessions.to_dict()
    table = whole.sessions.to_dict()
    assert table is not None
    by_persona = table["by_persona"]
    assert isinstance(by_persona, dict)
    for name, row in by_persona.items():
        mine = [r for r in records if r.persona == name]
        assert row["ok"] + row["error"] == len(mine)
        assert row["sessions"] == len({r.session_id for r in mine})
        assert row["slow"] == sum(r.slow for r in mine)
    assert sum(row["share"] for row in by_persona.values()) == pytest.approx(1.0)
