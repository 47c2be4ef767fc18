"""Session-level results from records."""

from __future__ import annotations

import pytest

from agentload.metrics.sessions import SessionAggregator
from agentload.records.record import ErrorKind, Outcome
from agentload.testing import make_record

MS = 1_000_000


def test_sessions_turns_failures_and_per_turn_latency() -> None:
    agg = SessionAggregator()
    for session in range(4):
        for turn in range(3):
            failed = session == 3 and turn == 1
            agg.add(
                make_record(
                    seq=session * 3 + turn,
                    session_id=f"s{session}",
                    turn=turn,
                    intended_at=turn * 1000 * MS,
                    sent_at=turn * 1000 * MS,
                    first_token_at=turn * 1000 * MS + 10 * MS,
                    done_at=turn * 1000 * MS + (100 + 50 * turn) * MS,
                    input_tokens=100 * (turn + 1),
                    outcome=Outcome.ERROR if failed else Outcome.OK,
                    error_kind=ErrorKind.CONTEXT_LOST if failed else None,
                )
            )
            if failed:
                break
    agg.add(make_record(seq=99))  # not part of any session: ignored
    data = agg.to_dict()
    assert data is not None
    assert data["count"] == 4 and data["failed"] == 1 and data["success_rate"] == 0.75
    by_turn = data["by_turn"]
    assert [row["turn"] for row in by_turn] == [0, 1, 2]
    assert [row["ok"] for row in by_turn] == [4, 3, 3]
    assert by_turn[2]["latency_p50_ms"] == pytest.approx(200, rel=1e-3)
    assert by_turn[0]["input_tokens_mean"] == 100 and by_turn[2]["input_tokens_mean"] == 300


def test_no_sessions_no_block() -> None:
    agg = SessionAggregator()
    agg.add(make_record())
    assert agg.to_dict() is None
