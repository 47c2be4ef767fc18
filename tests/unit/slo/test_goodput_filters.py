"""Goodput by persona and turn filters, and of whole sessions."""

from __future__ import annotations

import pytest

from agentload.analysis.goodput import GoodputCounter, is_good, objectives
from agentload.records.record import ErrorKind, Outcome
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000


def test_persona_and_turn_objectives_select_only_their_requests() -> None:
    goals = objectives(
        [
            parse_threshold("p99(latency{persona=buyer}) < 50ms"),
            parse_threshold("max(latency{turn=2}) < 10ms"),
        ]
    )
    assert len(goals) == 2
    assert not is_good(make_record(persona="buyer", done_at=60 * MS), goals)
    assert is_good(make_record(persona="browser", done_at=60 * MS), goals)
    assert is_good(make_record(persona=None, done_at=60 * MS), goals)
    assert not is_good(make_record(persona="browser", turn=2, done_at=20 * MS), goals)
    assert is_good(make_record(persona="browser", turn=1, done_at=20 * MS), goals)


def test_a_session_is_good_when_every_one_of_its_requests_is() -> None:
    counter = GoodputCounter([parse_threshold("p99(latency) < 50ms")])
    # s0: three fast turns; s1: one slow turn; s2: one error; a request outside sessions.
    for turn in range(3):
        counter.add(make_record(session_id="s0", turn=turn, done_at=10 * MS))
    counter.add(make_record(session_id="s1", turn=0, done_at=10 * MS))
    counter.add(make_record(session_id="s1", turn=1, done_at=90 * MS))
    counter.add(
        make_record(session_id="s2", outcome=Outcome.ERROR, error_kind=ErrorKind.TOTAL_TIMEOUT)
    )
    counter.add(make_record(done_at=10 * MS))
    result = counter.result(2.0)
    assert result.good == 5 and result.per_s == 2.5
    assert (result.sessions, result.sessions_good) == (3, 1)
    assert result.sessions_per_s == pytest.approx(0.5)
    assert result.to_dict()["sessions"] == {"count": 3, "good": 1, "per_s": 0.5}


def test_no_sessions_gives_no_session_goodput() -> None:
    counter = GoodputCounter([])
    counter.add(make_record())
    assert counter.result(1.0).to_dict()["sessions"] is None
