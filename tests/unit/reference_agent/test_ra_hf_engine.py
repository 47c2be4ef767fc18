"""Real-model engine on the CPU with the ``tiny`` config: a step takes about a millisecond.

Weights are random from the engine's seed (nothing is downloaded; the hub is kept offline),
so every test builds its own engine in a few milliseconds after the first import of torch.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentload.errors import UsageError
from agentload.reference_agent.hf_engine import HFEngine, HFEngineConfig
from agentload.reference_agent.hf_model import MISSING_EXTRA, ModelOOM
from agentload.reference_agent.inference import (
    CANCELLED,
    MODEL_OOM,
    EngineGauges,
    Generation,
    GenerationRequest,
)
from agentload.reference_agent.settings import load_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub, whatever a test asks

# torch is imported inside the engine only, so this module imports without the extra.
HAS_HF = bool(importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"))
needs_hf = pytest.mark.skipif(not HAS_HF, reason="needs the agentload[hf] extra")

T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def _imported_once() -> None:
    """Import torch and transformers before any test's time bound: on a busy CPU it takes
    several seconds, which the bounds below are not meant to measure."""
    if HAS_HF:
        HFEngine(tiny()).load()


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=20)

    return asyncio.run(bounded())


async def chunks(generation: Generation) -> list[list[str]]:
    """Every ``next_tokens`` result until the end: one chunk per step when reading keeps up."""
    out: list[list[str]] = []
    while batch := await generation.next_tokens():
        out.append(batch)
    return out


async def text(generation: Generation) -> str:
    return "".join(t for chunk in await chunks(generation) for t in chunk)


def tiny(**kwargs: Any) -> HFEngineConfig:
    return HFEngineConfig(**{"model": "tiny", "device": "cpu", **kwargs})


@needs_hf
def test_a_single_request_streams_exactly_max_tokens() -> None:
    async def scenario() -> tuple[list[list[str]], Generation]:
        async with HFEngine(tiny()) as engine:
            generation = engine.submit(GenerationRequest(prompt_tokens=30, max_tokens=17))
            return await chunks(generation), generation

    streamed, generation = run(scenario)
    tokens = [t for chunk in streamed for t in chunk]
    assert len(tokens) == generation.generated == 17
    assert len(streamed) > 1  # pushed step by step, not all at the end
    assert all(t.startswith(" ") and t.strip() for t in tokens)
    assert generation.error is None and generation.finish_reason == "length"


@needs_hf
def test_default_length_ends_with_stop_and_the_cap_applies() -> None:
    async def scenario() -> list[tuple[int, str]]:
        async with HFEngine(tiny(default_max_tokens=5, max_output_tokens=9)) as engine:
            generations = [engine.submit(GenerationRequest(8, n)) for n in (None, 50)]
            await asyncio.gather(*(text(g) for g in generations))
            return [(g.generated, g.finish_reason) for g in generations]

    assert run(scenario) == [(5, "stop"), (9, "length")]


@needs_hf
def test_concurrent_requests_are_batched_and_later_ones_wait_for_the_batch() -> None:
    async def scenario() -> tuple[list[Generation], int]:
        async with HFEngine(tiny(max_batch=4, max_wait_ms=300)) as engine:
            first = engine.submit(GenerationRequest(40, 60, seed=0))
            await asyncio.sleep(0.02)  # inside the wait window: it waits for company
            rest = [engine.submit(GenerationRequest(20 + i, 60, seed=i)) for i in range(1, 5)]
            generations = [first, *rest]
            readers = asyncio.gather(*(text(g) for g in generations))
            widest = 0
            while not readers.done():
                widest = max(widest, engine.gauges().running)
                await asyncio.sleep(0.001)
            await readers
            return generations, widest

    generations, widest = run(scenario)
    assert widest == 4
    batch, late = generations[:4], generations[4]
    # The fourth arrival filled the batch, so it started before the window ran out.
    assert len({g.prefill_end_ns for g in batch}) == 1
    assert 15 < batch[0].phases_ms()["queue"] < 250
    # Dynamic batching: the fifth waits for the whole batch, then runs alone.
    assert late.admitted_ns is not None and late.admitted_ns >= max(g.done_ns or 0 for g in batch)
    assert all(g.generated == 60 for g in generations)


@needs_hf
def test_output_is_deterministic_for_a_seed() -> None:
    async def answer(engine_seed: int, request_seed: int, crowd: int) -> str:
        async with HFEngine(tiny(seed=engine_seed, max_batch=8)) as engine:
            others = [
                engine.submit(GenerationRequest(7 + i, 5, seed=100 + i)) for i in range(crowd)
            ]
            mine = engine.submit(GenerationRequest(25, 12, seed=request_seed))
            result = await text(mine)
            await asyncio.gather(*(text(g) for g in others))
            return result

    first = run(lambda: answer(1, 42, crowd=0))
    assert len(first.split()) == 12
    assert first == run(lambda: answer(1, 42, crowd=0))
    assert first == run(lambda: answer(1, 42, crowd=5))  # left padding does not change it
    assert first != run(lambda: answer(1, 43, crowd=0))
    assert first != run(lambda: answer(2, 42, crowd=0))


@needs_hf
def test_phases_are_recorded_and_add_up() -> None:
    async def scenario() -> tuple[Generation, int]:
        async with HFEngine(tiny()) as engine:
            generation = engine.submit(GenerationRequest(prompt_tokens=200, max_tokens=10))
            await text(generation)
            return generation, engine.gauges().steps

    generation, steps = run(scenario)
    phases = generation.phases_ms()
    assert set(phases) == {"queue", "prefill", "decode", "total"}
    assert phases["prefill"] > 0 and phases["decode"] > 0 and phases["queue"] >= 0
    assert phases["queue"] + phases["prefill"] + phases["decode"] == pytest.approx(phases["total"])
    assert steps == 10  # the prefill yields the first token, nine decode steps the rest


@needs_hf
def test_cancel_releases_the_slot() -> None:
    async def scenario() -> tuple[Generation, Generation, int]:
        async with HFEngine(tiny(max_batch=1)) as engine:
            hog = engine.submit(GenerationRequest(10, 4000))
            waiter = engine.submit(GenerationRequest(10, 3))
            await hog.next_tokens()
            engine.cancel(hog)
            await text(waiter)
            await asyncio.sleep(0.01)
            return hog, waiter, engine.gauges().running

    hog, waiter, running = run(scenario)
    assert hog.error == "cancelled" and hog.error_kind == CANCELLED and hog.generated < 1000
    assert waiter.error is None and waiter.generated == 3 and running == 0


@needs_hf
def test_too_long_requests_fail_at_once() -> None:
    async def scenario() -> list[str | None]:
        async with HFEngine(tiny(kv_budget_tokens=500)) as engine:
            too_long = engine.submit(GenerationRequest(5000, 10))  # tiny's context: 4096
            over_budget = engine.submit(GenerationRequest(450, 100))
            fits = engine.submit(GenerationRequest(400, 5))
            await text(fits)
            return [g.error for g in (too_long, over_budget, fits)]

    too_long, over_budget, fits = run(scenario)
    assert too_long is not None and too_long.startswith("context_length_exceeded:")
    assert over_budget == "model_oom: 550 tokens exceed the KV budget of 500"
    assert over_budget is not None and over_budget.startswith("model_oom:")
    assert fits is None


@needs_hf
def test_a_failed_batch_fails_its_requests_and_the_engine_serves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> tuple[list[str | None], str | None, int]:
        async with HFEngine(tiny()) as engine:
            runner = engine.load()
            failures = iter([ModelOOM("CUDA out of memory"), RuntimeError("bad kernel")])

            def failing_decode(*args: object) -> list[int]:
                raise next(failures)

            monkeypatch.setattr(runner, "decode", failing_decode)
            broken = []
            for _ in range(2):
                pair = [engine.submit(GenerationRequest(10, 5)) for _ in range(2)]
                await asyncio.gather(*(text(g) for g in pair))
                broken += [g.error for g in pair]
            monkeypatch.undo()
            healthy = engine.submit(GenerationRequest(10, 5))
            await text(healthy)
            return broken, healthy.error, healthy.generated

    broken, healthy_error, healthy_tokens = run(scenario)
    assert broken[:2] == ["model_oom: CUDA out of memory"] * 2
    assert broken[2:] == ["inference failed: RuntimeError: bad kernel"] * 2
    assert healthy_error is None and healthy_tokens == 5


@needs_hf
def test_closing_or_not_starting_the_engine_fails_its_generations() -> None:
    async def scenario() -> tuple[str | None, str | None, list[str]]:
        engine = HFEngine(tiny())
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


@needs_hf
def test_a_local_directory_loads_the_same_model(tmp_path: Path) -> None:
    named = HFEngine(tiny(seed=3))
    named.load().model.save_pretrained(tmp_path / "tiny-copy")

    async def answer(config: HFEngineConfig) -> tuple[str, str]:
        async with HFEngine(config) as engine:
            return engine.model_name, await text(engine.submit(GenerationRequest(30, 8, seed=5)))

    name, from_dir = run(lambda: answer(tiny(seed=3, model=str(tmp_path / "tiny-copy"))))
    assert name == "tiny-copy"
    assert from_dir == run(lambda: answer(tiny(seed=3)))[1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"cannot load a causal LM from .*empty"):
        HFEngine(tiny(model=str(tmp_path / "empty"))).load()


@needs_hf
def test_from_settings_follows_the_agent_settings() -> None:
    settings = load_settings(
        None,
        seed=7,
        profile="baseline",
        **{"engine.kind": "hf", "engine.model": "0.9b", "engine.max_batch": 3,
           "engine.max_wait_ms": 5, "faults.oom_rate": 0.5},
    )  # fmt: skip
    config = HFEngine.from_settings(settings, device="cpu").config
    # baseline: one sequence at a time; the sim's profile name picks the same model
    assert (config.model, config.max_batch, config.max_wait_ms) == ("0.9b", 1, 0.0)
    assert (config.seed, config.oom_rate, config.device) == (7, 0.5, "cpu")
    assert config.output_sigma == settings.engine.output.sigma
    assert config.default_max_tokens == settings.engine.output.median_tokens
    # The engine section alone, as a caller with only that at hand passes it.
    alone = HFEngineConfig.from_settings(settings.engine, seed=3)
    assert (alone.max_batch, alone.max_wait_ms, alone.seed, alone.oom_rate) == (3, 5, 3, 0.0)
    with pytest.raises(ValueError, match=r"engine\.kind is 'sim'"):
        HFEngineConfig.from_settings(load_settings(None))


@needs_hf
def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="neither a directory nor one of tiny"):
        HFEngineConfig(model="llama-70b")
    for bad in ({"max_batch": 0}, {"max_wait_ms": -1.0}, {"oom_rate": 2.0}, {"output_sigma": 9}):
        with pytest.raises(ValueError):
            tiny(**bad)


@needs_hf
def test_injected_ooms_and_lognormal_lengths_follow_the_seed() -> None:
    async def scenario() -> tuple[list[str | None], list[int], EngineGauges]:
        config = tiny(oom_rate=0.5, output_sigma=1.0, default_max_tokens=8, max_batch=32)
        async with HFEngine(config) as engine:
            generations = [engine.submit(GenerationRequest(5, seed=i)) for i in range(20)]
            await asyncio.gather(*(text(g) for g in generations))
            return (
                [g.error_kind for g in generations],
                [g.generated for g in generations],
                (engine.gauges()),
            )

    kinds, lengths, gauges = run(scenario)
    assert (kinds, lengths) == run(scenario)[:2]  # the same draws in every run
    assert 0 < kinds.count(MODEL_OOM) < 20 and gauges.ooms == kinds.count(MODEL_OOM)
    served = [n for kind, n in zip(kinds, lengths, strict=True) if kind is None]
    assert len(set(served)) > 1  # lengths spread around the median of 8
    assert gauges.tokens_prefilled == 5 * len(served)


@pytest.mark.parametrize("module", ["torch", "transformers"])
def test_a_missing_extra_gives_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import torch` now raises ImportError
    with pytest.raises(UsageError) as caught:
        HFEngine(tiny())
    assert str(caught.value) == MISSING_EXTRA
    assert "\n" not in MISSING_EXTRA and "pip install 'agentload[hf]'" in MISSING_EXTRA
