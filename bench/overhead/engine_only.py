"""``client_overhead.py engine-only``: CPU per request of the engine and the recording path
alone, without a network: what agentload adds on top of its HTTP transport.

The engine runs the closed model (64 users, no think time) in-process on uvloop with a client
that answers every request after one event-loop turn (it sets the send, first-byte and end
times as a real client does, and does no I/O). Two variants, interleaved run by run:

- ``all sinks``: every record sink a plain ``agentload run`` feeds — the records file (a real
  file in a temporary directory, flushed as the run's ticker does), the run aggregator, the
  live window and the latency attribution windows (the SLO tracker only with thresholds);
- ``no sinks``: the engine alone (its users, the request's step, building the record).

CPU is the process CPU clock around ``Engine.run`` only (no start-up, no summary), divided by
the requests; medians of ``--runs`` runs. On this path a plain ``agentload run`` spends, per
request, the ``all sinks`` figure plus its transport (``transport_only.py``) plus the work
after the run (summary and report.html read the records back).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentload.analysis.attribution import PhaseWindows
from agentload.api import event_loop_factory
from agentload.clock import MonotonicClock
from agentload.engine import ClosedPlan, Engine
from agentload.engine.sinks import RecordSink
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.window import RollingWindow
from agentload.records.record import CallResult, Outcome, Timing
from agentload.records.rundir import RecordWriter
from agentload.sessions.work import Work
from agentload.slo.tracking import RunSlo
from agentload.testing import GetBuilder

from .tables import table

_OK = Outcome.OK


class InstantClient:
    """Answers after one event-loop turn; records the times a real client records."""

    async def call(self, work: Work, timing: Timing, clock: MonotonicClock) -> CallResult:
        timing.sent_at = clock.now_ns()
        await asyncio.sleep(0)
        timing.first_byte_at = clock.now_ns()
        return CallResult(done_at=clock.now_ns(), outcome=_OK, http_status=200)

    async def aclose(self) -> None:
        return None


async def _flusher(writer: RecordWriter, clock: MonotonicClock) -> None:
    while True:  # the run's ticker: records reach the file every 0.5 s
        await asyncio.sleep(0.25)
        writer.flush_due(clock.now_ns())


def one_run(requests: int, users: int, with_sinks: bool, tmp: Path) -> float:
    """CPU µs per request of one in-process closed run."""
    clock = MonotonicClock()
    sinks: list[RecordSink] = []
    writer: RecordWriter | None = None
    if with_sinks:
        writer = RecordWriter(tmp / f"records-{time.monotonic_ns()}.jsonl")
        slo = RunSlo([])  # as api.run: fed only when it has thresholds or objectives
        sinks = [writer, RunAggregator(), RollingWindow(), PhaseWindows(),
                 *([slo] if slo.tracks_records else [])]  # fmt: skip
    plan = ClosedPlan(users=users, think_min_s=0.0, think_max_s=0.0, duration_s=None,
                      max_requests=requests, seed=0)  # fmt: skip
    client: Any = InstantClient()
    engine = Engine(plan, GetBuilder("http"), client, clock, sinks, grace_s=1.0)

    async def run() -> float:
        flusher = asyncio.ensure_future(_flusher(writer, clock)) if writer else None
        start = time.process_time()
        await engine.run()
        spent = time.process_time() - start
        if flusher is not None:
            flusher.cancel()
        return spent

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        spent_s = runner.run(run())
    if writer is not None:
        writer.close()
    return spent_s / requests * 1e6


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="client_overhead.py engine-only", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not (1 <= args.runs <= 50 and 1_000 <= args.requests <= 5_000_000 and args.users >= 1):
        parser.error("--runs 1..50, --requests 1,000..5,000,000, --users >= 1")
    results: dict[str, list[float]] = {"all sinks": [], "no sinks": []}
    with tempfile.TemporaryDirectory(prefix="agentload-engine-only-") as tmp:
        for _ in range(args.runs):
            for name in results:
                results[name].append(one_run(args.requests, args.users, name == "all sinks",
                                             Path(tmp)))  # fmt: skip
    rows = [["variant", "CPU µs/request (median)", "min", "max"]]
    for name, values in results.items():
        rows.append([name, f"{statistics.median(values):.2f}", f"{min(values):.2f}",
                     f"{max(values):.2f}"])  # fmt: skip
    sinks_us = statistics.median(results["all sinks"]) - statistics.median(results["no sinks"])
    print(
        f"engine and recording path, in-process: closed model, {args.users} users, "
        f"{args.requests:,} requests per run, {args.runs} runs\n{table(rows, {1, 2, 3})}\n"
        f"record sinks of a plain run: {sinks_us:.2f} µs/request (all sinks - no sinks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
