"""The open-loop scheduler's precise sleep: on time, in order, never early, and cheap."""

import asyncio
import resource
import sys

import numpy as np
import pytest

from agentload.clock import KernelTimer, MonotonicClock

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _sleep_schedule(clock: MonotonicClock, gaps_ns: list[int]) -> list[int]:
    lags_ns = []
    deadline = clock.now_ns() + 2_000_000
    for gap in gaps_ns:
        deadline += gap
        await clock.sleep_until(deadline)
        lags_ns.append(clock.now_ns() - deadline)
    return lags_ns


@linux_only
def test_wakes_never_early_mostly_within_a_millisecond_without_spinning() -> None:
    gaps = np.random.default_rng(7).exponential(1e6, 1_000).astype(np.int64).tolist()  # 1,000/s

    async def main() -> tuple[list[int], float, bool]:
        clock = MonotonicClock()
        cpu = _cpu_s()
        lags = await _sleep_schedule(clock, gaps)
        return lags, _cpu_s() - cpu, clock._timer is not None

    lags, cpu_s, used_timer = asyncio.run(main())
    assert used_timer
    assert min(lags) >= 0  # never released before its intended time
    # Median wake-up well under a millisecond even on a shared machine; p99 is left to the
    # benchmark (a busy host delays any wake-up).
    assert np.median(lags) < 500_000
    wall_s = sum(gaps) / 1e9
    assert cpu_s < 0.5 * wall_s  # the spin it replaces used about half a core at this rate


@linux_only
def test_concurrent_sleepers_wake_in_deadline_order_and_cancelled_ones_are_skipped() -> None:
    async def main() -> list[int]:
        clock = MonotonicClock()
        woke: list[int] = []
        start = clock.now_ns()

        async def sleeper(n: int, offset_ms: int) -> None:
            await clock.sleep_until(start + offset_ms * 1_000_000)
            woke.append(n)

        doomed = asyncio.ensure_future(sleeper(99, 3))
        tasks = [asyncio.ensure_future(sleeper(n, 12 - 2 * n)) for n in range(5)]
        await asyncio.sleep(0)
        doomed.cancel()
        await asyncio.gather(*tasks)
        clock.close()
        return woke

    assert asyncio.run(main()) == [4, 3, 2, 1, 0]


@linux_only
def test_a_clock_used_on_a_second_loop_makes_a_new_timer() -> None:
    clock = MonotonicClock()
    for _ in range(2):
        asyncio.run(clock.sleep_until(clock.now_ns() + 1_000_000))
        assert isinstance(clock._timer, KernelTimer)
    clock.close()


def test_falls_back_to_the_loop_timer_where_no_kernel_timer_exists() -> None:
    clock = MonotonicClock()
    clock._timer_failed = True

    async def main() -> list[int]:
        return await _sleep_schedule(clock, [1_000_000] * 20)

    lags = asyncio.run(main())
    assert min(lags) >= 0
    assert clock._timer is None


@linux_only
def test_a_rebased_clock_counts_and_sleeps_from_its_new_zero() -> None:
    async def main() -> tuple[int, int, float]:
        clock = MonotonicClock()
        await clock.sleep_until(clock.now_ns() + 20_000_000)  # the timer exists before
        wall_before = clock.wall_start_s
        clock.rebase()
        at_zero = clock.now_ns()
        await clock.sleep_until(5_000_000)
        woke = clock.now_ns()
        clock.close()
        return at_zero, woke, clock.wall_start_s - wall_before

    at_zero, woke, wall_moved_s = asyncio.run(main())
    assert 0 <= at_zero < 5_000_000
    assert woke >= 5_000_000  # not early: the kernel timer uses the new zero too
    assert woke < 200_000_000  # a wake-up on the new zero, not a hang
    assert wall_moved_s >= 0.02
