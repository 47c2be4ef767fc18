"""The first-byte and total deadlines of a transport's exchanges, on one loop timer.

A loop timer per request costs ~2.4 µs on uvloop (``call_at`` and ``cancel``), a tenth of
a plain request's whole client CPU. Every exchange of one transport has the same two
timeouts and starts no earlier than the one before it, so its deadlines are appended to two
queues already in order, and one timer, set for the earliest deadline still pending, serves
them all. An exchange that ends is only marked done; done entries leave from the front of a
queue, and a queue that holds many more entries than exchanges in flight (one long stream
at its front) is rebuilt, so memory stays proportional to what is in flight.

The rules of ``asyncio.timeout`` hold: only the deadline's own cancellation becomes a
timeout; a cancellation from outside, such as the engine stopping, still propagates.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from agentload.clock import Clock
from agentload.records.record import Timing

_COMPACT_SLACK = 1024  # queued entries beyond twice those in flight before a rebuild


class Deadline:
    """One exchange's deadlines; called when the first byte of its answer arrives."""

    __slots__ = (
        "_clock",
        "_task",
        "_timing",
        "done",
        "expired",
        "first_at_s",
        "got_first_byte",
        "total_at_s",
    )

    def __init__(
        self,
        task: asyncio.Task[object] | None,
        first_at_s: float,
        total_at_s: float,
        timing: Timing,
        clock: Clock,
    ) -> None:
        self._task = task
        self._timing = timing
        self._clock = clock
        self.first_at_s = first_at_s
        self.total_at_s = total_at_s
        self.done = False
        self.expired = False
        self.got_first_byte = False

    def __call__(self) -> None:
        """The first byte of the answer arrived: stamp it; only the total deadline is left."""
        self._timing.first_byte_at = self._clock.now_ns()
        self.got_first_byte = True

    def _expire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    def absorb(self) -> bool:
        """After a ``CancelledError``: True when it was this deadline's and nobody else's."""
        return self.expired and self._task is not None and self._task.uncancel() == 0


class Deadlines:
    """The deadlines of one transport's exchanges (one event loop)."""

    __slots__ = (
        "_armed_at_s",
        "_first",
        "_first_byte_s",
        "_handle",
        "_live",
        "_loop",
        "_total",
        "_total_s",
    )

    def __init__(self, first_byte_s: float, total_s: float) -> None:
        self._first_byte_s = first_byte_s
        self._total_s = total_s
        # Waiting for a first byte (only when that deadline comes before the total one).
        self._first: deque[Deadline] = deque()
        self._total: deque[Deadline] = deque()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the timer's
        self._armed_at_s = math.inf
        self._live = 0  # started and not finished

    def start(self, loop: asyncio.AbstractEventLoop, timing: Timing, clock: Clock) -> Deadline:
        """Deadlines for an exchange starting now, in the current task."""
        now_s = loop.time()
        total_at_s = now_s + self._total_s
        first_at_s = now_s + self._first_byte_s
        deadline = Deadline(asyncio.current_task(loop), first_at_s, total_at_s, timing, clock)
        self._live += 1
        self._total.append(deadline)
        if first_at_s < total_at_s:
            self._first.append(deadline)
            earliest_s = first_at_s
        else:
            earliest_s = total_at_s
        if earliest_s < self._armed_at_s or loop is not self._loop:
            self._arm(loop, min(earliest_s, self._armed_at_s))
        return deadline

    def finish(self, deadline: Deadline) -> None:
        """The exchange is over; its deadlines no longer apply."""
        deadline.done = True
        deadline._task = None  # a done entry may wait in a queue: keep it small
        self._live -= 1
        total = self._total
        while total and total[0].done:
            total.popleft()
        first = self._first
        while first and (first[0].done or first[0].got_first_byte):
            first.popleft()
        limit = 2 * self._live + _COMPACT_SLACK
        if len(total) > limit:
            self._total = deque(d for d in total if not d.done)
        if len(first) > limit:
            self._first = deque(d for d in first if not (d.done or d.got_first_byte))

    def _arm(self, loop: asyncio.AbstractEventLoop, at_s: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._loop = loop
        self._armed_at_s = at_s
        self._handle = loop.call_at(at_s, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = None
        self._armed_at_s = math.inf
        now_s = loop.time()
        first = self._first
        while first and (first[0].done or first[0].got_first_byte or first[0].first_at_s <= now_s):
            deadline = first.popleft()
            if not (deadline.done or deadline.got_first_byte):
                deadline._expire()
        total = self._total
        while total and (total[0].done or total[0].total_at_s <= now_s):
            deadline = total.popleft()
            if not deadline.done:
                deadline._expire()
        next_s = math.inf
        if first:
            next_s = first[0].first_at_s
        if total and total[0].total_at_s < next_s:
            next_s = total[0].total_at_s
        if next_s < math.inf:
            self._arm(loop, next_s)

    @property
    def queued(self) -> int:
        """Entries held in the queues (in flight, or done and not yet dropped)."""
        return len(self._first) + len(self._total)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at_s = math.inf
