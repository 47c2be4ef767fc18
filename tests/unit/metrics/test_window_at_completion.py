"""The live window as a record sink: a record counts in the second it completed."""

from __future__ import annotations

from agentload.metrics.window import RollingWindow
from agentload.records.record import Outcome
from agentload.testing import make_record

S = 1_000_000_000


def test_a_record_without_a_time_is_placed_at_its_done_at() -> None:
    by_sink, by_clock = RollingWindow(window_s=3), RollingWindow(window_s=3)
    for second in range(6):
        record = make_record(
            intended_at=second * S, sent_at=second * S, done_at=second * S + S // 2
        )
        by_sink.add(record)
        by_clock.add(record, record.done_at)
    dropped = make_record(intended_at=5 * S, sent_at=None, done_at=5 * S, outcome=Outcome.DROPPED)
    by_sink.add(dropped)
    by_clock.add(dropped, dropped.done_at)
    assert by_sink.snapshot(6 * S - 1) == by_clock.snapshot(6 * S - 1)
    snapshot = by_sink.snapshot(6 * S - 1)
    assert (snapshot.sent, snapshot.ok, snapshot.dropped) == (3, 3, 1)  # seconds 3, 4 and 5
