"""The engine builds each record by position: every field must land where it belongs."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from agentload.engine import ClosedPlan, Engine
from agentload.records.record import CallResult, ErrorKind, Outcome, RequestRecord, Timing
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work
from agentload.testing import ManualClock

# A distinct value for every field that the engine takes from a CallResult or a Timing.
RESULT = {
    "done_at": 9_000,
    "outcome": Outcome.ERROR,
    "error_kind": ErrorKind.HTTP_5XX,
    "error_message": "boom",
    "http_status": 503,
    "input_tokens": 11,
    "output_tokens": 13,
    "tokens_approx": True,
    "chunks": 17,
    "polls": 19,
    "itl_ms": (1.5, 2.5),
    "phases_ms": {"queue": 3.5},
    "attempts": 23,
    "first_error_kind": ErrorKind.HTTP_429,
}
TIMING = {"sent_at": 2_000, "first_byte_at": 3_000, "first_token_at": 4_000}


class Builder:
    action = "act"

    def __init__(self, session: SessionState | None, sla_ms: float | None) -> None:
        self.session = session
        self.sla_ms = sla_ms

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        return Work(
            seq=seq,
            intended_at=intended_at,
            action="act",
            method="GET",
            path="/",
            body=None,
            user=user,
            session=self.session,
            turn=7 if self.session else 0,
            sla_ms=self.sla_ms,
        )


class Scripted:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result

    async def call(self, work: Work, timing: Timing, clock: Any) -> CallResult:
        for name, value in TIMING.items():
            setattr(timing, name, value)
        return CallResult(**self.result)

    async def aclose(self) -> None:
        return None


def one_record(
    result: dict[str, Any], session: SessionState | None = None, sla_ms: float | None = None
) -> RequestRecord:
    records: list[RequestRecord] = []

    class Sink:
        def add(self, record: RequestRecord) -> None:
            records.append(record)

    plan = ClosedPlan(
        users=1, think_min_s=0, think_max_s=0, duration_s=None, max_requests=1, seed=0
    )
    engine = Engine(
        plan,
        Builder(session, sla_ms),
        Scripted(result),
        ManualClock(),
        [Sink()],
        grace_s=1.0,
        worker=5,
    )
    asyncio.run(engine.run())
    assert len(records) == 1
    return records[0]


def test_every_field_of_the_record_comes_from_its_source() -> None:
    session = SessionState(session_id="s3", persona="buyer")
    record = one_record(RESULT, session)
    got = msgspec.structs.asdict(record)
    expected = {
        **{k: v for k, v in RESULT.items()},
        **TIMING,
        "seq": 0,
        "worker": 5,
        "action": "act",
        "intended_at": 0,
        "session_id": "s3",
        "turn": 7,
        "user": 0,
        "persona": "buyer",
        "slow": False,
        "released_at": None,
    }
    assert got == expected
    assert set(got) == set(RequestRecord.__struct_fields__)
    assert session.failed  # an error turn marks its session failed


@pytest.mark.parametrize(("sla_ms", "slow"), [(None, False), (8.0, True), (10.0, False)])
def test_slow_is_an_ok_answer_over_its_sla(sla_ms: float | None, slow: bool) -> None:
    ok = {"done_at": 9_000_000, "outcome": Outcome.OK, "http_status": 200}
    record = one_record(ok, sla_ms=sla_ms)  # 9 ms from the intended start
    assert record.slow is slow
    assert record.session_id is None and record.persona is None


def test_an_error_is_never_slow() -> None:
    assert one_record({**RESULT, "done_at": 10**12}, sla_ms=1.0).slow is False


def test_a_record_round_trips_through_its_json_line() -> None:
    record = one_record(RESULT, SessionState(session_id="s1", persona="p"))
    decoded = msgspec.json.decode(msgspec.json.encode(record), type=RequestRecord)
    assert decoded == record
