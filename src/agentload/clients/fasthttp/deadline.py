"""The first-byte and total deadlines of one exchange, on one loop timer.

``asyncio.timeout`` is pure Python in 3.11 and costs a few microseconds per request; this
keeps its rules (only its own cancellation becomes a timeout; a cancellation from outside,
such as the engine stopping, still propagates) with one ``call_at`` handle that is moved
once, when the first byte arrives.
"""

from __future__ import annotations

import asyncio

from agentload.clock import Clock
from agentload.records.record import Timing


class Deadline:
    __slots__ = ("_clock", "_handle", "_loop", "_task", "_timing", "_total_at_s", "expired")

    def __init__(
        self, first_byte_at_s: float, total_at_s: float, timing: Timing, clock: Clock
    ) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._loop = loop
        self._task = task
        self._timing = timing
        self._clock = clock
        self._total_at_s = total_at_s
        self.expired = False
        self._handle = loop.call_at(min(first_byte_at_s, total_at_s), self._fire)

    def _fire(self) -> None:
        self.expired = True
        self._task.cancel()

    def __call__(self) -> None:
        """The first byte of the answer arrived: stamp it, and the total deadline applies."""
        self._timing.first_byte_at = self._clock.now_ns()
        if not self.expired:
            self._handle.cancel()
            self._handle = self._loop.call_at(self._total_at_s, self._fire)

    def cancel(self) -> None:
        self._handle.cancel()

    def absorb(self) -> bool:
        """After a ``CancelledError``: True when it was this deadline's and nobody else's."""
        return self.expired and self._task.uncancel() == 0
