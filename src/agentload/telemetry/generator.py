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
import time
from collections.abc import Callable
from pathlib import Path

import psutil

NAME = "generator"
PROBE_INTERVAL_S = 0.025  # 40 wake-ups a second: ~0.4% of a core; longer stalls always show
_FD_DIR = Path("/proc/self/fd")


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
        self._process = psutil.Process()
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
        try:
            rss: int | None = self._process.memory_info().rss
        except psutil.Error:
            rss = None
        return open_sockets(), rss

    async def close(self) -> None:
        await self._probe.stop()


def open_sockets() -> int | None:
    """Descriptors of this process that are sockets (Linux); None where /proc is missing."""
    try:
        names = os.listdir(_FD_DIR)
    except OSError:
        return None
    count = 0
    for name in names:
        with contextlib.suppress(OSError):  # closed between the listing and the link read
            if os.readlink(_FD_DIR / name).startswith("socket:"):
                count += 1
    return count
