"""The in-process CPU cost of each step agentload runs to record one completed request.

Every record sink a plain ``agentload run`` feeds is here (``api._run``): the records file,
the run aggregator, the live window and the attribution windows (the SLO tracker is fed
only when the scenario has thresholds)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agentload.analysis.attribution import PhaseWindows
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.window import RollingWindow
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RecordWriter

from .tables import table

Add = Callable[[RequestRecord], object]


def make_record(seq: int) -> RequestRecord:
    """What ``Engine._emit`` builds for an ok plain-HTTP response of ~5 ms."""
    t = seq * 200_000
    return RequestRecord(
        seq=seq, worker=0, action="http", user=seq % 64, intended_at=t, sent_at=t + 20_000,
        first_byte_at=t + 4_000_000, first_token_at=None, done_at=t + 4_100_000,
        outcome=Outcome.OK, error_kind=None, error_message=None, http_status=200,
        input_tokens=None, output_tokens=None, tokens_approx=False, chunks=0, itl_ms=(),
        phases_ms={},
    )  # fmt: skip


def engine_record(seq: int) -> RequestRecord:
    """The same record built as ``Engine._emit`` builds it: every field by position."""
    t = seq * 200_000
    return RequestRecord(
        seq, 0, "http", t, t + 4_100_000, Outcome.OK, None, 0, seq % 64, t + 20_000,
        t + 4_000_000, None, None, None, 200, None, None, False, 0, 0, (), {}, None, False, 1,
        None, None,
    )  # fmt: skip


def sink_costs(repeats: int = 5, count: int = 20_000) -> str:
    """CPU µs per record of each step agentload runs for one completed ok HTTP request.

    Uses agentload's own classes (from the venv this script runs in) on a typical record,
    outside any event loop: the cost of recording a request, separate from sending it.
    Best of ``repeats`` loops of ``count`` records, on the process CPU clock.
    """
    records = [make_record(i) for i in range(count)]
    results: list[tuple[str, float]] = []

    def best(name: str, setup: Callable[[], Add]) -> None:
        times = []
        for _ in range(repeats):
            add = setup()
            start = time.process_time()
            for record in records:
                add(record)
            times.append(time.process_time() - start)
        results.append((name, min(times) / count * 1e6))

    def window() -> Add:
        # What api.run does: the live window places the record at its done_at.
        return RollingWindow().add

    best("RequestRecord(...) by position (Engine._emit)", lambda: lambda r: engine_record(r.seq))
    with tempfile.TemporaryDirectory() as tmp:
        writers: list[RecordWriter] = []

        def writer() -> Add:
            writers.append(RecordWriter(Path(tmp) / f"records-{len(writers)}.jsonl"))
            return writers[-1].add

        best("RecordWriter.add (msgspec JSON line)", writer)
        for w in writers:
            w.close()
    best("RunAggregator.add (6 histograms)", lambda: RunAggregator().add)
    best("RollingWindow.add (live view, 1 histogram)", window)
    best("PhaseWindows.add (attribution)", lambda: PhaseWindows().add)

    total = sum(cost for name, cost in results if not name.startswith(" "))
    rows = [["step (per ok record)", "CPU µs"]]
    rows += [[name, f"{cost:.2f}"] for name, cost in results]
    rows.append(["total of the steps above", f"{total:.2f}"])
    title = f"Recording cost per request, in-process (best of {repeats} x {count:,} records):"
    return f"{title}\n{table(rows, {1})}"
