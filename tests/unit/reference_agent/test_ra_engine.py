"""Simulated engine: continuous batching, exact token counts, determinism, phases.

Engines run at speed 50 (a 12.6 ms step takes 0.25 ms) so that every test takes well under
a second of wall time while still sleeping on real timers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.inference import Generation, GenerationRequest

T = TypeVar("T")
FAST = 50.0


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


async def collect(generation: Generation) -> tuple[list[str], float]:
    """All token texts, and the wall seconds until the first one."""
    start = time.perf_counter()
    first_s = -1.0
    tokens: list[str] = []
    while batch := await generation.next_tokens():
        if first_s < 0:
            first_s = time.perf_counter() - start
        tokens.extend(batch)
    return tokens, first_s


def test_token_counts_are_exact_and_finish_reasons_follow_the_limit() -> None:
    config = EngineConfig(speed=FAST, default_max_tokens=5, max_output_tokens=9)

    async def scenario() -> list[tuple[int, str, int]]:
        async with SimulatedEngine(config) as engine:
            requests = [GenerationRequest(10, 7), GenerationRequest(10), GenerationRequest(10, 50)]
            generations = [engine.submit(r) for r in requests]
            results = await asyncio.gather(*(collect(g) for g in generations))
            return [(len(t), g.finish_reason, g.generated) for (t, _), g in
                    zip(results, generations, strict=True)]  # fmt: skip

    assert run(scenario) == [(7, "length", 7), (5, "stop", 5), (9, "length", 9)]


def test_output_text_is_deterministic_for_a_seed() -> None:
    async def text(engine_seed: int, request_seed: int, crowd: int) -> str:
        async with SimulatedEngine(EngineConfig(speed=FAST, seed=engine_seed)) as engine:
            others = [engine.submit(GenerationRequest(5, 3, seed=i)) for i in range(crowd)]
            mine = engine.submit(GenerationRequest(20, 12, seed=request_seed))
            tokens, _ = await collect(mine)
            await asyncio.gather(*(collect(g) for g in others))
            return "".join(tokens)

    first = run(lambda: text(1, 42, crowd=0))
    assert first == run(lambda: text(1, 42, crowd=6))  # neighbours do not change it
    assert first != run(lambda: text(2, 42, crowd=0))
    assert first != run(lambda: text(1, 43, crowd=0))
    assert first.startswith(" ") and len(first.split()) == 12


def test_queueing_emerges_when_the_batch_is_full() -> None:
    async def ttfts(max_batch: int) -> tuple[list[float], list[float]]:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_batch=max_batch)) as engine:
            generations = [engine.submit(GenerationRequest(100, 8)) for _ in range(8)]
            results = await asyncio.gather(*(collect(g) for g in generations))
            return [first for _, first in results], [g.phases_ms()["queue"] for g in generations]

    serial_ttft, serial_queue = run(lambda: ttfts(1))
    batched_ttft, batched_queue = run(lambda: ttfts(8))
    # One slot: each request waits for every earlier one (8 steps + a prefill each).
    assert all(a < b for a, b in itertools.pairwise(serial_queue))
    assert serial_ttft[-1] > serial_ttft[0] * 4
    one_answer_ms = serial_queue[1] - serial_queue[0]
    assert serial_queue[-1] == pytest.approx(7 * one_answer_ms, rel=0.05)
    # Eight slots: all join the first step and see the same first-token time.
    assert max(batched_queue) < 1.0
    assert max(batched_ttft) < serial_ttft[-1] / 2


def test_decode_step_is_longer_at_batch_256_than_at_batch_1() -> None:
    async def per_token_ms(crowd: int) -> float:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_batch=256)) as engine:
            generations = [engine.submit(GenerationRequest(1000, 4)) for _ in range(crowd)]
            await asyncio.gather(*(collect(g) for g in generations))
            return generations[0].phases_ms()["decode"] / 4

    crowded, alone = run(lambda: per_token_ms(256)), run(lambda: per_token_ms(1))
    assert crowded > 3 * alone


def test_phases_add_up_and_follow_the_calibration() -> None:
    async def scenario() -> tuple[dict[str, float], SimulatedEngine]:
        async with SimulatedEngine(EngineConfig(speed=FAST)) as engine:
            generation = engine.submit(GenerationRequest(prompt_tokens=500, max_tokens=10))
            await collect(generation)
            return generation.phases_ms(), engine

    phases, engine = run(scenario)
    profile = engine.profile
    assert phases["queue"] + phases["prefill"] + phases["decode"] == pytest.approx(phases["total"])
    assert phases["prefill"] == pytest.approx(profile.prefill_ms(500), abs=1e-3)
    expected_decode = sum(profile.decode_step_ms(1, 500 + i) for i in range(10))
    assert phases["decode"] == pytest.approx(expected_decode, abs=0.01)


def test_gauges_show_queue_batch_and_kv_tokens() -> None:
    async def scenario() -> list[tuple[int, int, int]]:
        # Speed 1: a step lasts 12-25 ms, slow enough to look inside the run.
        async with SimulatedEngine(EngineConfig(max_batch=2)) as engine:
            generations = [engine.submit(GenerationRequest(300, 1000)) for _ in range(5)]
            before = engine.gauges()
            await asyncio.sleep(0.005)
            during = engine.gauges()
            for g in generations:
                engine.cancel(g)
            await asyncio.sleep(0.05)
            after = engine.gauges()
            return [(s.queue_depth, s.running, s.kv_tokens) for s in (before, during, after)]

    before, during, after = run(scenario)
    assert before == (5, 0, 0) and after == (0, 0, 0)
    queue_depth, running, kv_tokens = during
    assert (queue_depth, running) == (3, 2)
    assert 600 <= kv_tokens < 700  # two prompts of 300, plus the tokens decoded so far


def test_cancel_frees_the_slot_for_the_next_request() -> None:
    async def scenario() -> tuple[str | None, int, int]:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_batch=1)) as engine:
            hog = engine.submit(GenerationRequest(10, 4000))
            waiter = engine.submit(GenerationRequest(10, 3))
            await hog.next_tokens()
            engine.cancel(hog)
            tokens, _ = await collect(waiter)
            return hog.error, hog.generated, len(tokens)

    error, hog_tokens, waiter_tokens = run(scenario)
    assert error == "cancelled" and hog_tokens < 100 and waiter_tokens == 3


def test_closing_or_not_starting_the_engine_fails_its_generations() -> None:
    async def scenario() -> tuple[str | None, str | None, list[str]]:
        engine = SimulatedEngine(EngineConfig(speed=FAST))
        early = engine.submit(GenerationRequest(10, 3))
        await engine.start()
        pending = engine.submit(GenerationRequest(10, 4000))
        await pending.next_tokens()
        await engine.aclose()
        return early.error, pending.error, await pending.next_tokens()

    early_error, pending_error, leftover = run(scenario)
    assert early_error == "the inference engine is not running"
    assert pending_error == "the inference engine stopped"
    assert leftover == []


@pytest.mark.parametrize(
    "kwargs",
    [{"model": "70b"}, {"max_batch": 0}, {"speed": 0.0}, {"default_max_tokens": 0}],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]
