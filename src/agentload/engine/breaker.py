"""The circuit breaker for an unreachable target (``target.unreachable_abort_after``).

A record sink: the target counts as unreachable from the first connect-level failure
(refused, connect timeout, DNS/TLS/route errors) after which nothing reached it — any
response byte, any HTTP status or any other kind of failure proves it reachable and resets
the clock. When it has been unreachable for ``after_s``, ``watch`` stops the engine as a
first Ctrl-C would (in-flight requests finish, every record is kept) and the run ends with
status ``aborted_unreachable`` (exit code 1) instead of hammering a dead address until the
end of its duration.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentload.clock import NS_PER_S, Clock
from agentload.engine.core import Engine
from agentload.records.record import ErrorKind, Outcome, RequestRecord

STATUS = "aborted_unreachable"
UNREACHABLE_KINDS = frozenset(
    {ErrorKind.CONNECT_REFUSED, ErrorKind.CONNECT_TIMEOUT, ErrorKind.CONNECT_ERROR}
)
_CHECK_S = 0.1


class UnreachableBreaker:
    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self.down_since_ns: int | None = None
        self.tripped_at_ns: int | None = None
        self.failures = 0  # connect-level failures since the target was last reached

    def add(self, record: RequestRecord) -> None:
        if record.outcome in (Outcome.DROPPED, Outcome.CANCELLED):
            return  # says nothing about the target
        if record.error_kind in UNREACHABLE_KINDS and record.first_byte_at is None:
            if self.down_since_ns is None:
                self.down_since_ns = record.sent_at if record.sent_at is not None else 0
            self.failures += 1
        else:
            self.down_since_ns = None
            self.failures = 0

    def due(self, now_ns: int) -> bool:
        if self.tripped_at_ns is not None:
            return True
        if self.down_since_ns is None or now_ns - self.down_since_ns < self.after_s * NS_PER_S:
            return False
        self.tripped_at_ns = now_ns
        return True

    @property
    def tripped(self) -> bool:
        return self.tripped_at_ns is not None

    async def watch(self, engine: Engine, clock: Clock) -> None:
        """Stop ``engine`` once the target has been unreachable long enough."""
        while True:
            await asyncio.sleep(_CHECK_S)  # polled: records arrive from many tasks
            if self.due(clock.now_ns()):
                engine.stop()
                return

    def reason(self) -> str:
        return (
            f"target unreachable for {self.after_s:g}s "
            f"({self.failures} connect failures in a row); run stopped"
        )

    def meta(self) -> dict[str, Any]:
        """What meta.json records about the abort (nothing when it did not trip)."""
        if self.tripped_at_ns is None:
            return {}
        return {
            "abort_reason": self.reason(),
            "unreachable_since_s": (self.down_since_ns or 0) / NS_PER_S,
            "aborted_at_s": self.tripped_at_ns / NS_PER_S,
        }
