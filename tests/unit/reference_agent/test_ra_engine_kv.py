"""Simulated engine: the KV-cache budget, model_oom failures and preemption."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.engine_kv import MODEL_SHAPES, default_kv_budget_tokens
from agentload.reference_agent.inference import MODEL_OOM, Generation, GenerationRequest

T = TypeVar("T")
FAST = 50.0


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


async def text_of(generation: Generation) -> str:
    parts: list[str] = []
    while tokens := await generation.next_tokens():
        parts.extend(tokens)
    return "".join(parts)


def test_default_budgets_are_what_an_h200_holds_beside_the_weights() -> None:
    # layers × KV heads × head dim × (K, V) × bf16 bytes
    assert MODEL_SHAPES["0.9b"].kv_bytes_per_token == 16 * 8 * 128 * 2 * 2 == 65_536
    assert MODEL_SHAPES["8b"].kv_bytes_per_token == 32 * 8 * 128 * 2 * 2 == 131_072
    h200_bytes = 143_771 * 2**20  # NVML's total in the calibration files
    for model, params, budget in [("0.9b", 886_114_304, 2_043_260), ("8b", 7_241_732_096, 924_651)]:
        free_bytes = int(0.9 * h200_bytes) - 2 * params
        assert (
            default_kv_budget_tokens(model) == free_bytes // MODEL_SHAPES[model].kv_bytes_per_token
        )
        assert default_kv_budget_tokens(model) == budget
    assert SimulatedEngine(EngineConfig(model="8b")).gauges().kv_budget_tokens == 924_651


def test_fail_policy_fails_what_does_not_fit_in_the_free_budget() -> None:
    config = EngineConfig(speed=FAST, kv_budget_tokens=1000)

    async def scenario() -> tuple[list[Generation], list[str], SimulatedEngine]:
        async with SimulatedEngine(config) as engine:
            requests = [(400, 200), (300, 200), (100, 200), (1200, 1)]  # reserve 600, 500, ...
            generations = [engine.submit(GenerationRequest(p, m)) for p, m in requests]
            texts = await asyncio.gather(*(text_of(g) for g in generations))
            return generations, texts, engine

    (a, b, c, huge), texts, engine = run(scenario)
    assert a.error is None and c.error is None and a.generated == c.generated == 200
    for failed in (b, huge):  # b: 500 > the 400 left; huge: more than the whole budget
        assert failed.error_kind == MODEL_OOM and failed.generated == 0
        assert failed.error is not None and failed.error.startswith("model_oom: ")
    assert texts[1] == texts[3] == ""
    assert engine.gauges().ooms == 2


def test_fail_policy_reserves_the_output_cap_for_an_unlimited_answer() -> None:
    config = EngineConfig(speed=FAST, kv_budget_tokens=1000, max_output_tokens=950)

    async def scenario() -> tuple[Generation, Generation]:
        async with SimulatedEngine(config) as engine:
            fits = engine.submit(GenerationRequest(50))  # 50 + 950 reserved, 128 produced
            second = engine.submit(GenerationRequest(10, 1))  # nothing left for it
            await asyncio.gather(text_of(fits), text_of(second))
            return fits, second

    fits, second = run(scenario)
    assert fits.error is None and fits.generated == 128
    assert second.error_kind == MODEL_OOM


def test_preempt_policy_evicts_the_newest_and_recomputes_it_later() -> None:
    async def scenario(budget: int) -> tuple[Generation, Generation, list[str], SimulatedEngine]:
        config = EngineConfig(speed=FAST, kv_budget_tokens=budget, oom_policy="preempt")
        async with SimulatedEngine(config) as engine:
            a = engine.submit(GenerationRequest(400, 300, seed=1))
            b = engine.submit(GenerationRequest(400, 300, seed=2))
            texts = await asyncio.gather(text_of(a), text_of(b))
            return a, b, texts, engine

    a, b, texts, engine = run(lambda: scenario(1000))
    # Both fit (401 + 401); after 100 tokens each they need 2 × 501 > 1000, so b (the newer)
    # is preempted with 100 tokens and waits until a is done, then prefills 500 again.
    assert (a.preemptions, b.preemptions, engine.gauges().preemptions) == (0, 1, 1)
    assert a.generated == b.generated == 300 and a.error is None and b.error is None
    profile = engine.profile
    expected_prefill_ms = profile.prefill_ms(800) + profile.prefill_ms(500)
    assert b.sim_phases_ms()["prefill"] == pytest.approx(expected_prefill_ms, abs=1e-5)
    shared_ms = profile.prefill_ms(800) + sum(
        profile.decode_step_ms(2, 800 + 2 * i) for i in range(100)
    )  # the steps a and b ran together, up to the preemption
    requeued_ms = a.sim_phases_ms()["total"] - shared_ms  # b waits for all the rest of a
    assert b.sim_phases_ms()["queue"] == pytest.approx(requeued_ms, abs=1e-5)
    measured = b.phases_ms()
    parts = measured["queue"] + measured["prefill"] + measured["decode"]
    assert parts == pytest.approx(measured["total"])
    assert engine.gauges().tokens_prefilled == 800 + 500

    _, _, roomy_texts, roomy = run(lambda: scenario(100_000))
    assert roomy.gauges().preemptions == 0
    assert texts == roomy_texts  # preemption changes the timing, never the text


def test_preempt_policy_fails_what_could_not_finish_even_alone() -> None:
    config = EngineConfig(speed=FAST, kv_budget_tokens=1000, oom_policy="preempt")

    async def scenario() -> tuple[Generation, Generation]:
        async with SimulatedEngine(config) as engine:
            too_big = engine.submit(GenerationRequest(900, 101))
            fits = engine.submit(GenerationRequest(900, 100))
            await asyncio.gather(text_of(too_big), text_of(fits))
            return too_big, fits

    too_big, fits = run(scenario)
    assert too_big.error_kind == MODEL_OOM and fits.error is None and fits.generated == 100


def test_injected_ooms_follow_the_rate_and_the_seed() -> None:
    async def failures(seed: int, rate: float) -> list[bool]:
        config = EngineConfig(speed=FAST, max_batch=256, seed=seed, oom_rate=rate)
        async with SimulatedEngine(config) as engine:
            generations = [engine.submit(GenerationRequest(10, 1)) for _ in range(200)]
            await asyncio.gather(*(text_of(g) for g in generations))
            assert engine.gauges().ooms == sum(g.error_kind == MODEL_OOM for g in generations)
            return [g.error_kind == MODEL_OOM for g in generations]

    first = run(lambda: failures(3, 0.5))
    assert 70 <= sum(first) <= 130
    assert first == run(lambda: failures(3, 0.5))
    assert first != run(lambda: failures(4, 0.5))
    assert all(run(lambda: failures(3, 1.0)))
    assert not any(run(lambda: failures(3, 0.0)))
