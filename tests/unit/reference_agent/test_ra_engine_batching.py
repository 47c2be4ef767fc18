"""Simulated engine: queueing when the batch is full, and the dynamic-batching window.

The exact checks use the simulated phases (what the engine priced), so they hold however
busy the machine running the tests is; the engine still sleeps on real timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.inference import Generation, GenerationRequest

T = TypeVar("T")
FAST = 50.0  # a 12.6 ms step takes 0.25 ms


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


async def drain(*generations: Generation) -> None:
    async def one(generation: Generation) -> None:
        while await generation.next_tokens():
            pass

    await asyncio.gather(*(one(g) for g in generations))


def test_requests_queue_exactly_as_long_as_the_full_batch_runs() -> None:
    config = EngineConfig(speed=FAST, max_batch=2)

    async def scenario() -> tuple[list[Generation], SimulatedEngine]:
        async with SimulatedEngine(config) as engine:
            generations = [engine.submit(GenerationRequest(100, 5)) for _ in range(4)]
            await drain(*generations)
            return generations, engine

    (a, b, c, d), engine = run(scenario)
    profile = engine.profile
    first_batch_ms = profile.prefill_ms(200) + sum(
        profile.decode_step_ms(2, 200 + 2 * i) for i in range(5)
    )
    assert a.sim_phases_ms()["queue"] == b.sim_phases_ms()["queue"] == 0.0
    for late in (c, d):
        assert late.sim_phases_ms()["queue"] == pytest.approx(first_batch_ms, abs=1e-5)
        assert late.phases_ms()["queue"] >= 0.9 * first_batch_ms  # measured, on the schedule
    assert a.sim_ttft_ns is not None and c.sim_ttft_ns is not None
    assert c.sim_ttft_ns > a.sim_ttft_ns  # TTFT rises with the queue in front


def test_an_idle_engine_waits_for_the_window_and_prefills_arrivals_together() -> None:
    window_ms = 100.0
    prompts = (100, 200, 300)

    async def scenario(max_wait_ms: float) -> tuple[list[Generation], SimulatedEngine]:
        config = EngineConfig(speed=FAST, max_wait_ms=max_wait_ms)
        async with SimulatedEngine(config) as engine:
            generations = []
            for prompt in prompts:  # 10 ms apart, all well inside the first one's window
                generations.append(engine.submit(GenerationRequest(prompt, 3)))
                await asyncio.sleep(0.01)
            await drain(*generations)
            return generations, engine

    grouped, engine = run(lambda: scenario(window_ms))
    assert len({g.admitted_ns for g in grouped}) == 1  # one admission ...
    assert len({g.prefill_end_ns for g in grouped}) == 1  # ... one prefill pass
    together_ms = engine.profile.prefill_ms(sum(prompts))
    for generation in grouped:
        assert generation.sim_phases_ms()["prefill"] == pytest.approx(together_ms, abs=1e-5)
    assert grouped[0].sim_phases_ms()["queue"] == pytest.approx(window_ms)  # the whole window
    assert window_ms <= grouped[0].phases_ms()["queue"] <= window_ms + 20  # a late timer
    assert grouped[2].phases_ms()["queue"] < window_ms - 10  # later arrivals wait less

    alone, _ = run(lambda: scenario(0.0))
    assert len({g.prefill_end_ns for g in alone}) == 3  # without a window: a pass each
    assert all(g.sim_phases_ms()["queue"] == 0.0 for g in alone)


def test_arrivals_that_fill_the_free_slots_do_not_wait_for_the_window() -> None:
    config = EngineConfig(speed=FAST, max_batch=3, max_wait_ms=5_000)

    async def scenario() -> list[Generation]:
        async with SimulatedEngine(config) as engine:
            generations = [engine.submit(GenerationRequest(50, 2)) for _ in range(3)]
            await drain(*generations)
            return generations

    generations = run(scenario)  # bounded by run()'s 10 s, far below the 5 s window + work
    assert all(g.sim_phases_ms()["queue"] == 0.0 for g in generations)
    assert all(g.phases_ms()["queue"] < 100 for g in generations)


def test_a_busy_engine_holds_arrivals_while_the_next_step_ends_inside_their_window() -> None:
    window_ms = 1.0  # about four decode steps at speed 50

    async def scenario(max_wait_ms: float) -> tuple[Generation, Generation, SimulatedEngine]:
        config = EngineConfig(speed=FAST, max_wait_ms=max_wait_ms)
        async with SimulatedEngine(config) as engine:
            hog = engine.submit(GenerationRequest(10, 40))
            await hog.next_tokens()  # the hog runs; the engine is inside its next step
            b = engine.submit(GenerationRequest(100, 3))
            c = engine.submit(GenerationRequest(100, 3))
            await drain(hog, b, c)
            return b, c, engine

    b, c, engine = run(lambda: scenario(window_ms))
    step_ms = engine.profile.decode_step_ms(1, 20)  # the hog alone; flat at this KV size
    queue_ms = b.sim_phases_ms()["queue"]
    assert c.sim_phases_ms()["queue"] == queue_ms and b.admitted_ns == c.admitted_ns
    assert window_ms - step_ms < queue_ms <= window_ms  # never past the window
    assert queue_ms == pytest.approx(3 * step_ms, abs=1e-5)  # 3 steps fit, a 4th would not
    assert b.sim_phases_ms()["prefill"] == pytest.approx(engine.profile.prefill_ms(200))

    b, c, _ = run(lambda: scenario(0.0))
    assert b.sim_phases_ms()["queue"] == c.sim_phases_ms()["queue"] == 0.0


def test_a_window_shorter_than_a_step_changes_nothing_on_a_busy_engine() -> None:
    async def scenario() -> Generation:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_wait_ms=0.01)) as engine:
            hog = engine.submit(GenerationRequest(10, 20))
            await hog.next_tokens()
            late = engine.submit(GenerationRequest(100, 2))
            await drain(hog, late)
            return late

    assert run(scenario).sim_phases_ms()["queue"] == 0.0
