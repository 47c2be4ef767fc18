"""Calibration, end to end: one request alone on the engine matches the GPU measurements.

At batch 1 with no queue, TTFT is one prefill pass over the prompt plus the first decode
step, and every later token costs one decode step. The expectations come straight from the
JSON rows (the batch-1 prefill passes, and the batch-1 decode step at context 1024), not from
the fitted cost model. Prefill rows above a later, longer one are noise (the README's rule).
Runs at speed 1, so the measured phases are checked too (a few hundred ms in all): the
simulated ones to 10%, the measured ones to 10% plus what a loaded machine's stalls add.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import pytest

from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.inference import Generation, GenerationRequest

FILES = {"0.9b": "h200-llama-0.9b-bf16-hf-eager.json", "8b": "h200-llama-8b-bf16-hf-eager.json"}
DECODE_TOKENS = 4
STALL_MS = 15.0  # what a loaded test machine may add to measured (not simulated) times


def measurements(model: str) -> dict[str, Any]:
    path = resources.files("agentload.reference_agent") / "calibration" / FILES[model]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def batch1_prefill_rows(model: str) -> list[dict[str, Any]]:
    rows = sorted(
        (r for r in measurements(model)["prefill"] if r["batch"] == 1),
        key=lambda r: r["prompt_len"],
    )
    return [r for i, r in enumerate(rows) if all(r["ms"] <= later["ms"] for later in rows[i + 1 :])]


def batch1_step_ms(model: str) -> float:
    (row,) = [r for r in measurements(model)["decode"] if r["batch"] == 1]
    assert row["context"] == 1024
    return float(row["step_ms"])


CASES = [(m, r["prompt_len"], r["ms"]) for m in FILES for r in batch1_prefill_rows(m)]


def test_the_cases_cover_both_models() -> None:
    assert {model for model, _, _ in CASES} == set(FILES)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("model", "prompt_len", "prefill_ms"), CASES)
def test_ttft_and_step_time_match_the_measurements_within_10_percent(
    model: str, prompt_len: int, prefill_ms: float
) -> None:
    async def scenario() -> Generation:
        async with SimulatedEngine(EngineConfig(model=model)) as engine:
            generation = engine.submit(GenerationRequest(prompt_len, DECODE_TOKENS))
            while await generation.next_tokens():
                pass
            return generation

    generation = asyncio.run(asyncio.wait_for(scenario(), timeout=5))
    step_ms = batch1_step_ms(model)
    expected_ttft_ms = prefill_ms + step_ms
    assert generation.sim_ttft_ns is not None and generation.first_token_ns is not None
    assert generation.sim_ttft_ns / 1e6 == pytest.approx(expected_ttft_ms, rel=0.10)
    sim_steps_ms = generation.sim_phases_ms()["decode"] / DECODE_TOKENS
    assert sim_steps_ms == pytest.approx(step_ms, rel=0.10)
    assert generation.sim_phases_ms()["queue"] == 0.0
    # Measured on the engine's schedule (real sleeps at the calibrated speed): never faster
    # than the GPU; a busy test machine can only make it later (a stalled loop restarts the
    # schedule), so the upper bound allows a few ms of stall.
    measured_ttft_ms = (generation.first_token_ns - generation.arrived_ns) / 1e6
    assert 0.9 * expected_ttft_ms <= measured_ttft_ms <= 1.1 * expected_ttft_ms + STALL_MS
    measured_decode_ms = generation.phases_ms()["decode"]
    assert 0.9 * DECODE_TOKENS * step_ms <= measured_decode_ms
    assert measured_decode_ms <= 1.1 * DECODE_TOKENS * step_ms + STALL_MS
