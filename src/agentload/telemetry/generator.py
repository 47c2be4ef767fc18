"""The load generator watching itself: is it fast enough to produce the load it claims?

Series (collector ``generator``): ``generator.cpu_percent`` (this process, percent of one
core: an asyncio generator is saturated near 100), ``generator.loop_lag_ms`` (the largest
lateness of a 25 ms event-loop probe since the previous sample: how long a ready request
waited for the loop), ``generator.in_flight`` (requests sent and not yet answered),
``generator.open_sockets`` and ``generator.rss_bytes``.

The verdict on these series (``saturated from t=...``) is ``analysis.generator_check``; it
reads the run directory, as all analysis does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Callable

NAME = "generator"
PROBE_INTERVAL_S = 0.025  # 40 wake-ups a second: ~0.4% of a core; longer stalls always show
_FD_DIR = "/proc/self/fd"
_STATM = "/proc/self/statm"
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class LoopLagProbe:
    """Sleeps a short fixed time over and over and keeps the worst lateness of the wake-up."""

    def __init__(self, interval_s: float = PROBE_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:  # perf_counter: uvloop's own clock moves in whole milliseconds
            expected = time.perf_counter() + self._interval_s
            await asyncio.sleep(self._interval_s)
            self._worst_s = max(self._worst_s, time.perf_counter() - expected)

    def take_worst_ms(self) -> float:
        """The worst lateness since the previous call, in milliseconds."""
        worst, self._worst_s = self._worst_s, 0.0
        return max(0.0, worst) * 1000.0

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class GeneratorCollector:
    name = NAME

    def __init__(self, in_flight: Callable[[], int] | None = None) -> None:
        self._in_flight = in_flight
        self._probe = LoopLagProbe()
        self._last_cpu: tuple[float, float] | None = None

    async def sample(self) -> dict[str, float]:
        self._probe.start()
        values: dict[str, float] = {}
        times = os.times()
        cpu_s, now_s = times.user + times.system, time.monotonic()
        if self._last_cpu is not None:
            last_cpu_s, last_s = self._last_cpu
            if now_s > last_s:
                values["generator.cpu_percent"] = (cpu_s - last_cpu_s) / (now_s - last_s) * 100
            values["generator.loop_lag_ms"] = self._probe.take_worst_ms()
        self._last_cpu = (cpu_s, now_s)
        if self._in_flight is not None:
            values["generator.in_flight"] = float(self._in_flight())
        sockets, rss = await asyncio.to_thread(self._blocking_reads)
        if sockets is not None:
            values["generator.open_sockets"] = float(sockets)
        if rss is not None:
            values["generator.rss_bytes"] = float(rss)
        return values

    def _blocking_reads(self) -> tuple[int | None, int | None]:
        return open_sockets(), resident_bytes()

    async def close(self) -> None:
        await self._probe.stop()


def resident_bytes() -> int | None:
    """This process's resident set: /proc/self/statm where there is one (psutil, ~1 MB
    resident, is then not loaded for it), else psutil; None if neither can tell."""
    try:
        with open(_STATM, "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil.Error, or a platform psutil does not support
        return None


def open_sockets() -> int | None:
    """Descriptors of this process that are sockets (Linux); None where /proc is missing.

    ``fstat`` by descriptor number, not ``readlink`` of a /proc path: ~0.8 µs a descriptor
    instead of ~5, and this runs once a second beside the event loop, on its core (with 500
    sockets: 0.4 ms instead of 2.7 ms of that core each second)."""
    try:
        names = os.listdir(_FD_DIR)
    except OSError:
        return None
    count = 0
    for name in names:
        with contextlib.suppress(OSError, ValueError):  # closed since the listing
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                count += 1
    return count
