"""Closed model: stopping, cancelling and the grace period, exactly, on a manual clock.

Each user sends from its own task; these pin down what a user of ``agentload run`` relies
on: the first Ctrl-C lets in-flight requests finish, the grace period's end and a second
Ctrl-C cancel them, and every request that came due is exactly one record.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.engine import ClosedPlan, Engine, RunStatus
from agentload.records.record import ErrorKind, Outcome
from agentload.sessions.work import Work
from agentload.testing import Collect, FakeClient, GetBuilder, ManualClock, settle

MS = 1_000_000


def closed_engine(
    users: int, service_ms: int, *, think_s: float = 0.0, grace_s: float = 5.0
) -> tuple[Engine, ManualClock, FakeClient, Collect]:
    clock = ManualClock()
    client = FakeClient(clock, service_ns=lambda work: service_ms * MS)
    sink = Collect()
    plan = ClosedPlan(
        users=users,
        think_min_s=think_s,
        think_max_s=think_s,
        duration_s=None,
        max_requests=None,
        seed=0,
    )
    return Engine(plan, GetBuilder(), client, clock, [sink], grace_s=grace_s), clock, client, sink


async def advance(clock: ManualClock, ms: int) -> None:
    for _ in range(ms):
        await settle()
        clock.advance(MS)
    await settle()


def assert_one_record_each(engine: Engine, sink: Collect) -> None:
    assert sorted(r.seq for r in sink.records) == list(range(engine.issued))


def test_stop_lets_in_flight_requests_finish() -> None:
    engine, clock, client, sink = closed_engine(users=3, service_ms=30)

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, 45)  # each user: one answered, the second in flight
        assert engine.in_flight == 3
        engine.stop()
        await advance(clock, 40)
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert engine.issued == 6
    assert_one_record_each(engine, sink)
    assert {r.outcome for r in sink.records} == {Outcome.OK}
    assert engine.in_flight == 0 and client.in_flight == 0


def test_stop_ends_thinking_users_at_once() -> None:
    engine, clock, _, sink = closed_engine(users=2, service_ms=10, think_s=100.0)

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, 20)  # both answered, both thinking
        assert engine.in_flight == 0
        engine.stop()
        await settle()
        assert task.done()
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert engine.issued == 2
    assert {r.outcome for r in sink.records} == {Outcome.OK}


def test_grace_period_end_cancels_what_is_still_in_flight() -> None:
    engine, clock, client, sink = closed_engine(users=2, service_ms=10_000, grace_s=0.05)

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, 5)
        engine.stop()
        for _ in range(100):  # the grace period runs on the loop's clock: wait in real time
            await asyncio.sleep(0.01)
            if task.done():
                break
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert_one_record_each(engine, sink)
    assert len(sink.records) == 2
    assert {r.outcome for r in sink.records} == {Outcome.CANCELLED}
    assert {r.error_kind for r in sink.records} == {ErrorKind.CANCELLED}
    assert {r.error_message for r in sink.records} == {
        "still in flight when the grace period ended"
    }
    assert client.in_flight == 0


def test_cancel_records_every_request_in_flight_as_cancelled() -> None:
    engine, clock, client, sink = closed_engine(users=4, service_ms=1_000)

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, 5)
        engine.cancel()
        await settle()
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert_one_record_each(engine, sink)
    assert len(sink.records) == 4
    assert {r.error_message for r in sink.records} == {"cancelled by a second interrupt"}
    assert engine.in_flight == 0 and client.in_flight == 0


def test_cancelling_the_run_from_outside_records_everything_in_flight() -> None:
    engine, clock, client, sink = closed_engine(users=3, service_ms=20)

    async def scenario() -> None:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, 50)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert_one_record_each(engine, sink)
    counts = Counter(r.outcome for r in sink.records)
    assert counts[Outcome.CANCELLED] == 3  # one per user, cut mid-request
    assert counts[Outcome.OK] == engine.issued - 3
    assert client.in_flight == 0


class Boom:
    """A client with a bug: it raises instead of returning a failure."""

    async def call(self, work: Work, timing: object, clock: object) -> object:
        raise RuntimeError("bug")

    async def aclose(self) -> None:
        return None


def test_a_client_bug_is_an_error_record_and_the_users_go_on() -> None:
    clock = ManualClock()
    sink = Collect()
    plan = ClosedPlan(
        users=2, think_min_s=0, think_max_s=0, duration_s=None, max_requests=5, seed=0
    )
    engine = Engine(plan, GetBuilder(), Boom(), clock, [sink], grace_s=1.0)  # type: ignore[arg-type]
    assert asyncio.run(engine.run()) is RunStatus.COMPLETE
    assert_one_record_each(engine, sink)
    assert len(sink.records) == 5
    assert {r.error_kind for r in sink.records} == {ErrorKind.CLIENT_ERROR}


@settings(max_examples=25, deadline=None)
@given(
    users=st.integers(1, 6),
    service_ms=st.integers(1, 40),
    stop_at_ms=st.integers(0, 120),
    grace_ms=st.sampled_from([0, 10, 1_000]),
    hard=st.booleans(),
)
def test_every_request_that_came_due_is_one_record(
    users: int, service_ms: int, stop_at_ms: int, grace_ms: int, hard: bool
) -> None:
    engine, clock, client, sink = closed_engine(users, service_ms, grace_s=grace_ms / 1000)

    async def scenario() -> RunStatus:
        task = asyncio.ensure_future(engine.run())
        await advance(clock, stop_at_ms)
        engine.cancel() if hard else engine.stop()
        for _ in range(200):
            await asyncio.sleep(0.001)
            clock.advance(MS)
            if task.done():
                break
        return await task

    assert asyncio.run(scenario()) is RunStatus.INTERRUPTED
    assert_one_record_each(engine, sink)
    assert engine.in_flight == 0 and client.in_flight == 0
    counts = Counter(r.outcome for r in sink.records)
    assert counts[Outcome.OK] + counts[Outcome.CANCELLED] == engine.issued
    assert len(client.calls) == engine.issued  # nothing recorded that was never sent
