"""Time sources. Every time on a record is nanoseconds on the run clock (0 = run start).

The engine only ever asks a ``Clock``; tests inject a ``ManualClock`` to make scheduling
exact and instant (as trio does), production uses ``MonotonicClock``.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Protocol

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None: ...


class MonotonicClock:
    """Monotonic nanoseconds since construction; the wall time of 0 is kept for reports."""

    # Event-loop timers have ~1 ms resolution (libuv counts whole milliseconds), so a sleep
    # can wake up to a millisecond early or late. A precise sleep therefore yields to the loop
    # for the last stretch instead of sleeping; the stretch is kept short because yielding is
    # busy work. Measured on uvloop (scheduler alone, Poisson): 0.5 ms gives p99 lag ≈0.6 ms
    # at 9% CPU for 500/s; 1.5 ms gave p99 ≈0.02 ms but 40% CPU (a whole core at 2,000/s).
    _SPIN_NS = 500_000
    _MIN_TIMER_NS = 1_000_000

    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()
        self.wall_start_s = time.time()

    def now_ns(self) -> int:
        return time.monotonic_ns() - self._t0

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None:
        """``precise`` trades a little CPU for sub-millisecond wake-ups (the open-loop
        scheduler); a user's think time does not need it."""
        remaining = deadline_ns - self.now_ns()
        if not precise:
            if remaining > 0:
                await asyncio.sleep(remaining / NS_PER_S)
            return
        while remaining > self._SPIN_NS:
            # Never ask for less than one timer tick: shorter sleeps return at once and
            # would turn this loop into a spin.
            await asyncio.sleep(max(remaining - self._SPIN_NS, self._MIN_TIMER_NS) / NS_PER_S)
            remaining = deadline_ns - self.now_ns()
        while self.now_ns() < deadline_ns:  # noqa: ASYNC110 - a deliberate short spin
            await asyncio.sleep(0)


class ManualClock:
    """A clock that only moves when told; sleepers wake in deadline order."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = 0
        self.wall_start_s = 0.0

    def now_ns(self) -> int:
        return self._now

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None:
        if deadline_ns <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._counter += 1
        heapq.heappush(self._sleepers, (deadline_ns, self._counter, fut))
        await fut

    def advance(self, delta_ns: int) -> None:
        """Move time forward, waking every sleeper whose deadline has passed."""
        self._now += delta_ns
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
