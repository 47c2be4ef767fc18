"""The engine's scheduling, exactly, on a manual clock (no real time passes)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.engine import ClosedPlan, Engine, OpenPlan, RunStatus
from agentload.records.record import ErrorKind, Outcome
from agentload.testing import Collect, FakeClient, GetBuilder, ManualClock, settle

MS = 1_000_000


async def drive(clock: ManualClock, engine: Engine, step_ns: int = MS) -> RunStatus:
    """Run the engine while moving the manual clock forward in small steps."""
    task = asyncio.ensure_future(engine.run())
    for _ in range(1_000_000):
        await settle()
        if task.done():
            break
        clock.advance(step_ns)
    return await task


def run_open(schedule_ms: list[int], service_ms: int, cap: int, grace_s: float = 60.0):
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: service_ms * MS)
    sink = Collect()
    engine = Engine(
        OpenPlan(schedule_ns=iter([t * MS for t in schedule_ms]), max_in_flight=cap),
        GetBuilder(),
        client,
        clock,
        [sink],
        grace_s=grace_s,
    )
    status = asyncio.run(drive(clock, engine))
    return status, sink.records, client


def test_requests_are_sent_at_their_intended_time() -> None:
    status, records, _ = run_open([0, 10, 20, 30], service_ms=5, cap=10)
    assert status is RunStatus.COMPLETE
    assert [r.intended_at for r in sorted(records, key=lambda r: r.seq)] == [
        0,
        10 * MS,
        20 * MS,
        30 * MS,
    ]
    for record in records:
        assert record.sent_at == record.intended_at  # the manual clock has no lag
        assert record.done_at - record.sent_at == 5 * MS


def test_cap_drops_exactly_the_requests_that_find_it_full() -> None:
    # Service 25 ms, arrivals every 10 ms, cap 2: arrival k finds in flight those sent in
    # (t-25, t) that were not dropped.
    _status, records, client = run_open(list(range(0, 100, 10)), service_ms=25, cap=2)
    outcomes = {r.seq: r.outcome for r in records}
    assert len(records) == 10
    assert client.max_in_flight == 2
    assert [seq for seq, o in sorted(outcomes.items()) if o is Outcome.DROPPED] == [2, 5, 8]
    for record in records:
        if record.outcome is Outcome.DROPPED:
            assert record.sent_at is None and record.done_at == record.intended_at


@settings(max_examples=30, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 20), min_size=1, max_size=40),
    service_ms=st.integers(1, 60),
    cap=st.integers(1, 8),
)
def test_every_request_is_exactly_one_record(gaps: list[int], service_ms: int, cap: int) -> None:
    schedule = []
    t = 0
    for gap in gaps:
        t += gap
        schedule.append(t)
    _, records, client = run_open(schedule, service_ms=service_ms, cap=cap)
    assert sorted(r.seq for r in records) == list(range(len(schedule)))
    counts = Counter(r.outcome for r in records)
    assert counts[Outcome.OK] + counts[Outcome.DROPPED] == len(schedule)
    assert client.max_in_flight <= cap
    assert len(client.calls) == counts[Outcome.OK]


def test_grace_period_end_cancels_in_flight_work() -> None:
    status, records, _ = run_open([0, 1], service_ms=10_000, cap=10, grace_s=0.05)
    assert status is RunStatus.COMPLETE
    assert {r.outcome for r in records} == {Outcome.CANCELLED}
    assert {r.error_kind for r in records} == {ErrorKind.CANCELLED}


def test_closed_users_think_between_requests() -> None:
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: 10 * MS)
    sink = Collect()
    plan = ClosedPlan(
        users=2, think_min_s=0.005, think_max_s=0.005, duration_s=None, max_requests=6, seed=0
    )
    engine = Engine(plan, GetBuilder(), client, clock, [sink], grace_s=1.0)
    asyncio.run(drive(clock, engine))
    assert len(sink.records) == 6
    for user in (0, 1):
        mine = sorted((r for r in sink.records if r.user == user), key=lambda r: r.seq)
        for before, after in itertools.pairwise(mine):
            assert after.intended_at - before.done_at == pytest.approx(5 * MS, abs=MS)


def test_stop_ends_sending_and_keeps_in_flight_results() -> None:
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: 30 * MS)
    sink = Collect()
    engine = Engine(
        OpenPlan(schedule_ns=iter(range(0, 10_000 * MS, 10 * MS)), max_in_flight=100),
        GetBuilder(),
        client,
        clock,
        [sink],
        grace_s=5.0,
    )

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        for _ in range(50):
            await settle()
            clock.advance(MS)
        engine.stop()
        for _ in range(200):
            await settle()
            clock.advance(MS)
        return await task

    status = asyncio.run(scenario())
    assert status is RunStatus.INTERRUPTED
    assert 3 <= len(sink.records) <= 7
    assert all(r.outcome is Outcome.OK for r in sink.records)


def test_work_cancelled_before_it_ran_still_leaves_a_record() -> None:
    # cancel() in the same loop turn as the spawns: the tasks never start, yet every request
    # that came due is one record.
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: 10 * MS)
    sink = Collect()
    engine = Engine(
        OpenPlan(schedule_ns=iter([0, 0, 0, 0, 0]), max_in_flight=10),
        GetBuilder(),
        client,
        clock,
        [sink],
        grace_s=1.0,
    )

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await asyncio.sleep(0)  # the driver spawns all five (they are all due at 0)
        await asyncio.sleep(0)
        engine.cancel()
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert sorted(r.seq for r in sink.records) == [0, 1, 2, 3, 4]
    assert {r.outcome for r in sink.records} == {Outcome.CANCELLED}


def test_cancelling_the_run_from_outside_records_everything_in_flight() -> None:
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: 1_000 * MS)
    sink = Collect()
    engine = Engine(
        OpenPlan(schedule_ns=iter(range(0, 100 * MS, 10 * MS)), max_in_flight=100),
        GetBuilder(),
        client,
        clock,
        [sink],
        grace_s=1.0,
    )

    async def scenario() -> None:
        task = asyncio.ensure_future(engine.run())
        for _ in range(35):
            await settle()
            clock.advance(MS)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert len(sink.records) == engine.issued == 4
    assert {r.outcome for r in sink.records} == {Outcome.CANCELLED}


def test_think_time_does_not_outlast_the_run() -> None:
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: 10 * MS)
    sink = Collect()
    plan = ClosedPlan(
        users=2, think_min_s=5.0, think_max_s=5.0, duration_s=1.0, max_requests=None, seed=0
    )
    engine = Engine(plan, GetBuilder(), client, clock, [sink], grace_s=1.0)
    asyncio.run(drive(clock, engine))
    assert len(sink.records) == 2  # one each; the next would come after the run's end
    assert clock.now_ns() < 100 * MS
