"""The fast transport's shared deadline queues: every exchange times out exactly when its own
first-byte or total deadline passes, whatever the order in which exchanges start, receive
their first byte and end, and the queues hold about what is in flight, not what has been."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.clients.fasthttp.deadline import Deadline, Deadlines
from agentload.clock import MonotonicClock
from agentload.records.record import Timing


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualLoop:
    """``time`` and ``call_at`` on a clock that moves only when told to."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self._timers: list[tuple[float, int, _Handle, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now_s

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._timers, (when, next(self._order), handle, callback, args))
        return handle

    def advance(self, to_s: float) -> None:
        self.now_s = to_s
        while self._timers and self._timers[0][0] <= to_s:
            _, _, handle, callback, args = heapq.heappop(self._timers)
            if not handle.cancelled:
                callback(*args)

    @property
    def armed(self) -> int:
        return sum(not t[2].cancelled for t in self._timers)


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["start", "first_byte", "finish", "wait"]),
        st.integers(min_value=0, max_value=1000),  # which exchange (mod the live ones)
        st.floats(min_value=0.0, max_value=3.0),  # time that passes before the step
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=STEPS,
    first_byte_s=st.sampled_from([0.5, 1.0, 2.5]),
    total_s=st.sampled_from([0.5, 2.0, 4.0]),
)
def test_each_exchange_expires_exactly_when_its_own_deadline_passes(
    steps: list[tuple[str, int, float]], first_byte_s: float, total_s: float
) -> None:
    loop = ManualLoop()
    queues = Deadlines(first_byte_s, total_s)
    live: list[tuple[Deadline, float]] = []  # with its start time
    clock = MonotonicClock()
    aloop = cast(asyncio.AbstractEventLoop, loop)
    for action, pick, wait_s in steps:
        before_s = loop.now_s
        loop.advance(before_s + wait_s)
        now_s = loop.now_s
        for deadline, start_s in live:
            waited_first = not deadline.got_first_byte and now_s >= start_s + first_byte_s
            expected = waited_first or now_s >= start_s + total_s
            assert deadline.expired == expected, (start_s, now_s, deadline.got_first_byte)
        for deadline, _ in [x for x in live if x[0].expired]:  # its exchange ends at once
            queues.finish(deadline)
        live = [x for x in live if not x[0].expired]
        if action == "start":
            live.append((queues.start(aloop, Timing(), clock), now_s))
        elif live and action == "first_byte":
            live[pick % len(live)][0]()
        elif live and action == "finish":
            queues.finish(live.pop(pick % len(live))[0])
        assert loop.armed <= 1  # one timer serves every exchange
        if live:
            assert loop.armed == 1


def test_finished_exchanges_behind_a_long_one_do_not_accumulate() -> None:
    loop = ManualLoop()
    aloop = cast(asyncio.AbstractEventLoop, loop)
    queues = Deadlines(60.0, 300.0)
    clock = MonotonicClock()
    long_one = queues.start(aloop, Timing(), clock)
    long_one()  # a stream that answered and goes on
    for i in range(50_000):
        loop.advance(i * 0.0001)
        short = queues.start(aloop, Timing(), clock)
        short()
        queues.finish(short)
    assert queues.queued <= 2 * 1024 + 4
    assert not long_one.expired
    loop.advance(301.0)
    assert long_one.expired


def test_a_real_loop_times_out_the_waiting_task_and_not_an_outside_cancel() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        queues = Deadlines(0.05, 0.2)
        clock = MonotonicClock()

        async def exchange(first_byte_after_s: float | None) -> tuple[str, float]:
            started = loop.time()
            deadline = queues.start(loop, Timing(), clock)
            try:
                if first_byte_after_s is not None:
                    await asyncio.sleep(first_byte_after_s)
                    deadline()
                await asyncio.sleep(5)
                return "done", loop.time() - started
            except asyncio.CancelledError:
                if not deadline.absorb():
                    raise
                kind = "total" if deadline.got_first_byte else "first_byte"
                return kind, loop.time() - started
            finally:
                queues.finish(deadline)

        no_answer, answered = await asyncio.gather(exchange(None), exchange(0.01))
        assert no_answer[0] == "first_byte" and 0.045 <= no_answer[1] < 0.15
        assert answered[0] == "total" and 0.195 <= answered[1] < 0.4
        outside = asyncio.ensure_future(exchange(None))
        await asyncio.sleep(0.01)
        outside.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outside
        queues.close()

    asyncio.run(main())
