"""Time sources. Every time on a record is nanoseconds on the run clock (0 = run start).

The engine only ever asks a ``Clock``; tests inject a ``ManualClock`` to make scheduling
exact and instant (as trio does), production uses ``MonotonicClock``.
"""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import os
import sys
import time
import weakref
from typing import Protocol

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None: ...


class MonotonicClock:
    """Monotonic nanoseconds since construction; the wall time of 0 is kept for reports."""

    # Event-loop timers have ~1 ms resolution (libuv counts whole milliseconds). On Linux a
    # precise sleep waits on a kernel timer (timerfd, nanosecond deadline) that the loop
    # watches like a socket, so it wakes within tens of µs without using the CPU. Elsewhere
    # it yields to the loop for the last stretch instead (busy work: measured on uvloop, 0.5
    # ms gives p99 lag ≈0.6 ms at 9% CPU for 500/s, but a whole core at 2,000/s).
    _SPIN_NS = 500_000
    _MIN_TIMER_NS = 1_000_000

    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()
        self.wall_start_s = time.time()
        self._timer: KernelTimer | None = None
        self._timer_failed = False

    def now_ns(self) -> int:
        return time.monotonic_ns() - self._t0

    def rebase(self) -> None:
        """Make now the clock's zero (and its wall start): the run calls it as sending begins,
        so the set-up before (files, client, 15-30 ms) is not counted as the first arrivals'
        schedule lag. Only before anything has read the clock or is sleeping on it."""
        self._t0 = time.monotonic_ns()
        self.wall_start_s = time.time()

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None:
        """``precise`` asks for a sub-millisecond wake-up (the open-loop scheduler); a user's
        think time does not need it."""
        remaining = deadline_ns - self.now_ns()
        if not precise:
            if remaining > 0:
                await asyncio.sleep(remaining / NS_PER_S)
            return
        if remaining <= 0:
            return
        timer = self._kernel_timer()
        if timer is not None:
            await timer.wait(self._t0 + deadline_ns)
            return
        while remaining > self._SPIN_NS:
            # Never ask for less than one timer tick: shorter sleeps return at once and
            # would turn this loop into a spin.
            await asyncio.sleep(max(remaining - self._SPIN_NS, self._MIN_TIMER_NS) / NS_PER_S)
            remaining = deadline_ns - self.now_ns()
        while self.now_ns() < deadline_ns:  # noqa: ASYNC110 - a deliberate short spin
            await asyncio.sleep(0)

    def _kernel_timer(self) -> KernelTimer | None:
        loop = asyncio.get_running_loop()
        timer = self._timer
        if timer is not None and timer.loop is loop:
            return timer
        if self._timer_failed:
            return None
        if timer is not None:
            timer.close()
        try:
            self._timer = timer = KernelTimer(loop)
        except (OSError, AttributeError, NotImplementedError):
            self._timer_failed = True  # not Linux, or the loop cannot watch the fd: spin
            return None
        return timer

    def close(self) -> None:
        """Release the kernel timer (also done when the clock is garbage collected)."""
        if self._timer is not None:
            self._timer.close()
            self._timer = None


_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        if not sys.platform.startswith("linux"):
            raise NotImplementedError("timerfd is Linux only")
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class KernelTimer:
    """Sleepers on absolute CLOCK_MONOTONIC deadlines (ns), woken by one Linux timerfd.

    The fd is armed for the earliest deadline; when it fires, every sleeper due by then is
    woken in one loop callback (so arrivals closer together than a wake-up are released
    together, each keeping its own intended time).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        libc = _load_libc()
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._settime = libc.timerfd_settime
        self._fd = fd
        self.loop = loop
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = 0
        self._armed_ns = 0  # 0: disarmed
        self._spec = _Itimerspec()
        try:
            loop.add_reader(fd, self._fire)
        except BaseException:
            os.close(fd)
            raise
        self._finalizer = weakref.finalize(self, os.close, fd)

    def wait(self, deadline_ns: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self.loop.create_future()
        self._counter += 1
        heapq.heappush(self._sleepers, (deadline_ns, self._counter, future))
        if self._armed_ns == 0 or deadline_ns < self._armed_ns:
            self._arm(deadline_ns)
        return future

    def _arm(self, deadline_ns: int) -> None:
        spec = self._spec
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(deadline_ns, NS_PER_S)
        if self._settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._armed_ns = deadline_ns

    def _fire(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:  # re-armed after it had fired: not expired yet
            return
        self._armed_ns = 0
        now_ns = time.monotonic_ns()
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= now_ns:
            future = heapq.heappop(sleepers)[2]
            if not future.done():  # a cancelled sleeper leaves its entry behind
                future.set_result(None)
        while sleepers and sleepers[0][2].done():
            heapq.heappop(sleepers)
        if sleepers:
            self._arm(sleepers[0][0])

    def close(self) -> None:
        if self._finalizer.alive:
            if not self.loop.is_closed():
                self.loop.remove_reader(self._fd)
            self._finalizer()


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
