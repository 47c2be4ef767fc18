"""Simulated engine: continuous batching, exact token counts, determinism, phases.

Engines run at speed 50 (a 12.6 ms step takes 0.25 ms) so that every test takes well under
a second of wall time while still sleeping on real timers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.inference import EngineGauges, Generation, GenerationRequest
from agentload.reference_agent.settings import AgentSettings, load_settings

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
    # With output_sigma 0 (EngineConfig's default) an unlimited answer is the median long.
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
    # Exact relations use the simulated phases (immune to a busy test machine); the
    # measured ones, taken on the engine's schedule, only have to agree roughly.
    async def phases(max_batch: int) -> tuple[list[float], list[float], list[float]]:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_batch=max_batch)) as engine:
            generations = [engine.submit(GenerationRequest(100, 8)) for _ in range(8)]
            await asyncio.gather(*(collect(g) for g in generations))
            sim_ttft = [(g.sim_ttft_ns or 0) / 1e6 for g in generations]
            sim_queue = [g.sim_phases_ms()["queue"] for g in generations]
            admissions = [g.admitted_ns or 0 for g in generations]
            if max_batch == 1:  # one at a time, in arrival order
                assert all(a < b for a, b in itertools.pairwise(admissions))
            return sim_ttft, sim_queue, [g.phases_ms()["queue"] for g in generations]

    serial_ttft, serial_queue, serial_measured = run(lambda: phases(1))
    batched_ttft, batched_queue, _ = run(lambda: phases(8))
    # One slot: each request waits for every earlier one (a prefill + 8 steps each).
    assert serial_queue[0] == 0.0
    one_answer_ms = serial_queue[1]
    assert serial_queue == pytest.approx([k * one_answer_ms for k in range(8)])
    assert serial_ttft[-1] > serial_ttft[0] * 4
    assert serial_measured[-1] >= 0.9 * serial_queue[-1]
    # Eight slots: all join the first step and see the same first-token time.
    assert batched_queue == [0.0] * 8 and len(set(batched_ttft)) == 1
    assert max(batched_ttft) < serial_ttft[-1] / 2


def test_decode_step_is_longer_at_batch_256_than_at_batch_1() -> None:
    async def per_token_ms(crowd: int) -> float:
        async with SimulatedEngine(EngineConfig(speed=FAST, max_batch=256)) as engine:
            generations = [engine.submit(GenerationRequest(1000, 4)) for _ in range(crowd)]
            await asyncio.gather(*(collect(g) for g in generations))
            return generations[0].sim_phases_ms()["decode"] / 4

    crowded, alone = run(lambda: per_token_ms(256)), run(lambda: per_token_ms(1))
    assert crowded > 3 * alone


def test_phases_add_up_and_follow_the_calibration() -> None:
    async def scenario() -> tuple[Generation, SimulatedEngine]:
        async with SimulatedEngine(EngineConfig(speed=FAST)) as engine:
            generation = engine.submit(GenerationRequest(prompt_tokens=500, max_tokens=10))
            await collect(generation)
            return generation, engine

    generation, engine = run(scenario)
    profile = engine.profile
    expected_decode = sum(profile.decode_step_ms(1, 500 + i) for i in range(10))
    sim = generation.sim_phases_ms()
    assert sim["queue"] == 0.0
    assert sim["prefill"] == pytest.approx(profile.prefill_ms(500), abs=1e-5)
    assert sim["decode"] == pytest.approx(expected_decode, abs=1e-5)
    assert sim["total"] == pytest.approx(sim["prefill"] + sim["decode"])
    # Measured on the schedule: the prefill is exact, decode steps can only run late.
    phases = generation.phases_ms()
    assert phases["queue"] + phases["prefill"] + phases["decode"] == pytest.approx(phases["total"])
    assert phases["prefill"] == pytest.approx(profile.prefill_ms(500), abs=1e-3)
    assert phases["decode"] >= expected_decode - 1e-3


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


@pytest.mark.parametrize(
    "kwargs",
    [{"max_wait_ms": -1.0}, {"max_wait_ms": float("inf")}, {"kv_budget_tokens": 0},
     {"oom_policy": "swap"}, {"output_sigma": 4.0}, {"oom_rate": 1.5}],
)  # fmt: skip
def test_new_config_fields_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_from_settings_maps_every_engine_field() -> None:
    settings = load_settings(
        None,
        seed=9,
        **{
            "engine.model": "8b",
            "engine.max_batch": 16,
            "engine.max_wait_ms": 7.5,
            "engine.kv_budget_tokens": 50_000,
            "engine.oom_policy": "preempt",
            "engine.speed": 3.0,
            "engine.output.median_tokens": 40,
            "engine.output.sigma": 0.8,
            "engine.output.max_tokens": 300,
            "faults.oom_rate": 0.25,
        },
    )
    assert EngineConfig.from_settings(settings) == EngineConfig(
        model="8b", max_batch=16, speed=3.0, seed=9, default_max_tokens=40,
        max_output_tokens=300, max_wait_ms=7.5, kv_budget_tokens=50_000,
        oom_policy="preempt", output_sigma=0.8, oom_rate=0.25,
    )  # fmt: skip
    engine = SimulatedEngine.from_settings(settings)
    assert engine.config.max_batch == 16 and engine.kv_budget_tokens == 50_000


def test_defaults_match_the_settings_defaults_except_the_output_spread() -> None:
    from_defaults = EngineConfig.from_settings(AgentSettings())
    assert from_defaults.output_sigma == 0.5  # the settings' lognormal spread
    assert dataclasses.replace(from_defaults, output_sigma=0.0) == EngineConfig()


def test_baseline_profile_decodes_one_sequence_at_a_time() -> None:
    settings = load_settings(
        None,
        profile="baseline",
        **{"engine.max_batch": 64, "engine.max_wait_ms": 50, "engine.speed": FAST},
    )
    assert EngineConfig.from_settings(settings).max_batch == 1
    assert EngineConfig.from_settings(settings).max_wait_ms == 0.0

    async def scenario() -> tuple[list[dict[str, float]], int]:
        peak = 0
        async with SimulatedEngine.from_settings(settings) as engine:
            generations = [engine.submit(GenerationRequest(50 * (i + 1), 4)) for i in range(5)]
            while not all(g.finished for g in generations):
                peak = max(peak, engine.gauges().running)
                await asyncio.sleep(0)
            return [g.sim_phases_ms() for g in generations], peak

    phases, peak = run(scenario)
    assert peak == 1
    # Strictly one after another: each waits exactly as long as everything before it took.
    for earlier, later in itertools.pairwise(phases):
        assert later["queue"] == pytest.approx(earlier["total"], abs=1e-6)


def test_settings_for_another_engine_kind_are_refused() -> None:
    settings = load_settings(None, **{"engine.kind": "hf", "engine.model": "/models/x"})
    with pytest.raises(ValueError, match="kind"):
        SimulatedEngine.from_settings(settings)


def test_gauges_count_tokens_prefilled_and_report_the_budget() -> None:
    async def scenario() -> EngineGauges:
        async with SimulatedEngine(EngineConfig(speed=FAST, kv_budget_tokens=10_000)) as eng:
            generations = [eng.submit(GenerationRequest(100, 3)) for _ in range(4)]
            await asyncio.gather(*(collect(g) for g in generations))
            return eng.gauges()

    gauges = run(scenario)
    assert gauges.kv_budget_tokens == 10_000 and gauges.tokens_prefilled == 400
    assert gauges.tokens_generated == 12 and gauges.requests_finished == 4
    assert (gauges.preemptions, gauges.ooms, gauges.kv_reserved_tokens) == (0, 0, 0)
