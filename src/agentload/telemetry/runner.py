"""Runs the scenario's collectors on the run clock and appends their samples to the run dir.

``TelemetryRunner(config, clock, run_dir_path, in_flight=...)``: ``start()`` before the
engine, ``stop()`` after it. Every ``interval`` (at 0, 1×, 2×... on the run clock) each
collector samples, in a task of its own so that a slow one never delays the others; each
sample is stamped with the time its tick began on the run clock, so it joins the request
records on time. A collector whose reading overruns the interval skips the ticks that
passed rather than sampling in a burst; one that takes longer than ``SAMPLE_TIMEOUT_S`` is
cut off. Messages about collectors that could not work are in ``notes`` (the run puts them
among its warnings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from agentload.clock import NS_PER_S, Clock
from agentload.config.telemetry import TelemetryConfig
from agentload.records.samples import TELEMETRY_FILE, Sample, SampleWriter
from agentload.telemetry.base import Collector, Notes

SAMPLE_TIMEOUT_S = 10.0  # longest one reading may take (a scrape has its own, shorter limit)


def build_collectors(
    config: TelemetryConfig, notes: Notes, in_flight: Callable[[], int] | None = None
) -> list[Collector]:
    collectors: list[Collector] = []
    if config.host is not None:
        from agentload.telemetry.host import HostCollector

        collectors.append(HostCollector(config.host, notes))
    if config.gpu is not None:
        from agentload.telemetry.gpu import GpuCollector

        collectors.append(GpuCollector(config.gpu, notes))
    for index, scrape in enumerate(config.prometheus):
        from agentload.telemetry.prometheus import NAME, PrometheusCollector

        name = scrape.name or (NAME if index == 0 else f"{NAME}{index + 1}")
        collectors.append(PrometheusCollector(scrape, notes, name))
    if config.redis is not None:
        from agentload.telemetry.redis_info import RedisCollector

        collectors.append(RedisCollector(config.redis, notes))
    if config.generator is not None:
        from agentload.telemetry.generator import GeneratorCollector

        collectors.append(GeneratorCollector(in_flight))
    return collectors


class TelemetryRunner:
    def __init__(
        self,
        config: TelemetryConfig,
        clock: Clock,
        run_dir: Path,
        *,
        in_flight: Callable[[], int] | None = None,
        collectors: list[Collector] | None = None,
        sample_timeout_s: float | None = None,
    ) -> None:
        self.notes = Notes()
        self._clock = clock
        self._interval_ns = int(config.interval * NS_PER_S)
        # A slow reading only delays its own collector, so it may take a few intervals.
        self._timeout_s = sample_timeout_s or max(config.interval, SAMPLE_TIMEOUT_S)
        self._collectors = (
            collectors
            if collectors is not None
            else build_collectors(config, self.notes, in_flight)
        )
        self._writer: SampleWriter | None = None
        self._path = run_dir / TELEMETRY_FILE
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def samples_written(self) -> int:
        return 0 if self._writer is None else self._writer.count

    def start(self) -> None:
        if not self._collectors or self._tasks:
            return
        self._writer = SampleWriter(self._path)
        self._tasks = [asyncio.ensure_future(self._run(c)) for c in self._collectors]

    async def _run(self, collector: Collector) -> None:
        """One collector's ticks; each collector has its own, so none waits for another."""
        tick = 0
        while True:
            await self._clock.sleep_until(tick * self._interval_ns, precise=False)
            at_ns = self._clock.now_ns()
            try:
                async with asyncio.timeout(self._timeout_s):
                    values = await collector.sample()
            except Exception as exc:  # a collector's failure is a note, never the run's end
                reason = (
                    f"no answer within {self._timeout_s:g}s"
                    if isinstance(exc, TimeoutError)
                    else str(exc) or type(exc).__name__
                )
                self.notes.add(
                    f"{collector.name} telemetry: a sample failed: {reason}",
                    key=f"{collector.name}:failed",
                )
                values = {}
            if values and self._writer is not None:
                self._writer.add(Sample(at_ns=at_ns, collector=collector.name, values=values))
                self._writer.flush()
            # Skip ticks that already passed rather than sampling in a burst to catch up.
            tick = max(tick + 1, self._clock.now_ns() // self._interval_ns + 1)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for collector in self._collectors:
            try:
                await collector.close()
            except Exception as exc:  # closing is best effort; the samples are written
                self.notes.add(f"{collector.name} telemetry: close failed: {exc}")
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:  # a full disk loses the last samples, not the run's summary
                self.notes.add(f"telemetry: cannot write {self._path}: {exc.strerror}")
