"""The client seam: one adapter per protocol. A client never raises for a failed request."""

from __future__ import annotations

from typing import Protocol

from agentload.clock import Clock
from agentload.records.record import CallResult, Timing
from agentload.sessions.work import Work


class Client(Protocol):
    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        """Send ``work``; fill ``timing`` as events happen (the engine reads it on cancel)."""
        ...

    async def aclose(self) -> None: ...
