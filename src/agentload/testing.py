"""Helpers for users' own tests (and ours): a manual clock, a scripted client, a record maker.

clock = ManualClock()
client = FakeClient(clock, service_ns=lambda work: 5_000_000)   # every answer takes 5 ms
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agentload.clock import ManualClock
from agentload.records.record import CallResult, ErrorKind, Outcome, RequestRecord, Timing
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work

__all__ = ["Collect", "FakeClient", "GetBuilder", "ManualClock", "make_record", "settle"]


class FakeClient:
    """A client whose answers take ``service_ns(work)`` on the given clock and succeed,
    unless ``fail(work)`` names an error kind."""

    def __init__(
        self,
        clock: ManualClock,
        *,
        service_ns: Callable[[Work], int] = lambda work: 1_000_000,
        fail: Callable[[Work], ErrorKind | None] = lambda work: None,
    ) -> None:
        self._clock = clock
        self._service_ns = service_ns
        self._fail = fail
        self.calls: list[Work] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def call(self, work: Work, timing: Timing, clock: Any) -> CallResult:
        self.calls.append(work)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            timing.sent_at = self._clock.now_ns()
            await self._clock.sleep_until(timing.sent_at + self._service_ns(work))
            timing.first_byte_at = timing.first_token_at = self._clock.now_ns()
            kind = self._fail(work)
            if kind is not None:
                return CallResult(
                    done_at=self._clock.now_ns(),
                    outcome=Outcome.ERROR,
                    error_kind=kind,
                    error_message=f"scripted {kind.value}",
                )
            return CallResult(done_at=self._clock.now_ns(), outcome=Outcome.OK, http_status=200)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await asyncio.sleep(0)


def make_record(**fields: Any) -> RequestRecord:
    """A valid ok record with sensible times (ns); override any field."""
    defaults: dict[str, Any] = {
        "seq": 0,
        "worker": 0,
        "action": "chat",
        "intended_at": 0,
        "sent_at": 0,
        "first_byte_at": 10_000_000,
        "first_token_at": 20_000_000,
        "done_at": 100_000_000,
        "outcome": Outcome.OK,
        "http_status": 200,
        "output_tokens": 10,
        "input_tokens": 5,
    }
    defaults.update(fields)
    return RequestRecord(**defaults)


class GetBuilder:
    """Builds a plain ``GET /`` for every request: the simplest work an engine can send."""

    def __init__(self, action: str = "x") -> None:
        self.action = action

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
            action=self.action,
            method="GET",
            path="/",
            body=None,
            user=user,
        )


class Collect:
    """A record sink that keeps every record, in the order they came."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)


async def settle() -> None:
    """Let every task that can run, run (a wake-up, a spawn and a first step take a few)."""
    for _ in range(10):
        await asyncio.sleep(0)
