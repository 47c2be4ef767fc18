"""Simulated engine: answer lengths (exact limits, a seeded lognormal otherwise)."""

from __future__ import annotations

import asyncio
import functools
import math
import statistics
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.engine_output import plan_output, sample_output_tokens
from agentload.reference_agent.inference import Generation, GenerationRequest

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


def test_lengths_are_lognormal_around_the_median() -> None:
    lengths = [sample_output_tokens(0, seed, median_tokens=128, sigma=0.5) for seed in range(4000)]
    assert statistics.median(lengths) == pytest.approx(128, rel=0.05)
    logs = [math.log(n) for n in lengths]
    assert statistics.stdev(logs) == pytest.approx(0.5, rel=0.1)
    assert lengths == [
        sample_output_tokens(0, seed, median_tokens=128, sigma=0.5) for seed in range(4000)
    ]
    other_engine = [sample_output_tokens(1, s, median_tokens=128, sigma=0.5) for s in range(50)]
    assert other_engine != lengths[:50]
    assert {sample_output_tokens(0, s, median_tokens=7, sigma=0.0) for s in range(50)} == {7}


def test_a_limit_is_reached_exactly_and_the_cap_cuts_long_answers() -> None:
    plan = functools.partial(
        plan_output, engine_seed=0, median_tokens=100, sigma=1.0, cap_tokens=150
    )
    limited = plan(40, request_seed=1)
    assert (limited.tokens, limited.limit_tokens, limited.finish_reason) == (40, 40, "length")
    over = plan(1000, request_seed=1)
    assert (over.tokens, over.finish_reason) == (150, "length")
    plans = [plan(None, request_seed=s) for s in range(500)]
    assert all(p.limit_tokens == 150 and 1 <= p.tokens <= 150 for p in plans)
    assert all(p.finish_reason == "stop" for p in plans if p.tokens < 150)
    assert any(p.finish_reason == "length" for p in plans)  # exp(1.0 · z) > 1.5 is common
    assert any(p.finish_reason == "stop" for p in plans)


def test_the_engine_produces_the_sampled_lengths() -> None:
    config = EngineConfig(speed=1000, max_batch=512, default_max_tokens=8, output_sigma=0.7,
                          max_output_tokens=20)  # fmt: skip

    async def scenario() -> list[Generation]:
        async with SimulatedEngine(config) as engine:
            generations = [engine.submit(GenerationRequest(20, seed=s)) for s in range(300)]

            async def drain(generation: Generation) -> int:
                count = 0
                while tokens := await generation.next_tokens():
                    count += len(tokens)
                return count

            counts = await asyncio.gather(*(drain(g) for g in generations))
            assert counts == [g.generated for g in generations]
            return generations

    generations = run(scenario)
    expected = [sample_output_tokens(0, s, median_tokens=8, sigma=0.7) for s in range(300)]
    assert [g.generated for g in generations] == [min(n, 20) for n in expected]
    assert [g.finish_reason for g in generations] == [
        "length" if n > 20 else "stop" for n in expected
    ]
    assert statistics.median(g.generated for g in generations) == pytest.approx(8, abs=1)
