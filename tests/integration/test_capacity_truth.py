"""The capacity search against the reference agent, checked against the truth.

The truth comes from the engine's own parameters, independently of agentload's measuring:
``engine_truth`` replays the step schedule of the simulated engine (continuous batching,
one prefill pass over the admitted prompts plus one decode step of the batch, each priced by
the calibrated profile) for constant arrivals at a rate, measures the p99 latency of the
requests due in a step's window exactly as the search's steps do, and bisects for the rate at
which that p99 crosses the threshold. Below the engine's service capacity the latency is one
answer's service time; above it the backlog grows for the whole step, so the crossing sits a
few percent above the service capacity (1 / service time for the baseline profile).

Settings keep steps short on a shared 2-core machine: 8 output tokens at the calibrated speed
(≈113 ms per answer), constant arrivals, 2.5 s steps after a 0.75 s warm-up.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload.capacity_runner import run_capacity
from agentload.config import parse_scenario
from agentload.reference_agent.calibration import load_profile
from tests.conftest import running_reference_agent

PROMPT_TOKENS = 64
OUTPUT_TOKENS = 8
LIMIT_MS = 500.0
WARMUP_S, STEP_S = 0.75, 2.5
OPTIMIZED_BATCH = 8


def scenario(url: str, seed: int = 0) -> Any:
    data = {
        "name": "capacity-truth",
        "seed": seed,
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": {"model": "open", "arrival": "constant", "rate": 1, "duration": 1},
        "request": {"prompt_tokens": PROMPT_TOKENS, "max_tokens": OUTPUT_TOKENS},
        "thresholds": [f"p99(latency) < {LIMIT_MS:g}ms", "error_rate < 1%"],
        "capacity": {
            "vary": "rate",
            "start": 8,
            "max": 400,
            "resolution": "5%",
            "step_duration": STEP_S,
            "warmup": WARMUP_S,
            "repeats": 2,
            "budget": "80s",
        },
    }
    return parse_scenario(yaml.safe_dump(data), source="capacity-truth.yaml")


def simulated_p99_ms(
    rate: float, max_batch: int, warmup_s: float = WARMUP_S, step_s: float = STEP_S
) -> float:
    """p99 latency of the requests due in the measurement window, on the engine's schedule."""
    profile = load_profile("0.9b")
    end_s = warmup_s + step_s
    arrivals = deque(i / rate for i in range(math.ceil(end_s * rate)))
    waiting: deque[float] = deque()
    running: list[list[float]] = []  # [arrival_s, tokens produced]
    latencies: list[float] = []
    now = 0.0
    while arrivals or waiting or running:
        while arrivals and arrivals[0] <= now:
            waiting.append(arrivals.popleft())
        if not waiting and not running:
            now = arrivals[0]
            continue
        admitted = 0
        while waiting and len(running) < max_batch:
            running.append([waiting.popleft(), 0])
            admitted += 1
        kv = sum(PROMPT_TOKENS + produced for _, produced in running)
        cost_ms = profile.prefill_ms(admitted * PROMPT_TOKENS) + profile.decode_step_ms(
            len(running), kv
        )
        now += cost_ms / 1e3
        for seq in running:
            seq[1] += 1
        for seq in [s for s in running if s[1] >= OUTPUT_TOKENS]:
            running.remove(seq)
            if seq[0] >= warmup_s:
                latencies.append((now - seq[0]) * 1e3)
    latencies.sort()
    return latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)]


def engine_truth(max_batch: int, warmup_s: float = WARMUP_S, step_s: float = STEP_S) -> float:
    """The rate at which the simulated p99 crosses the limit (bisection to 0.5%)."""
    lo, hi = 0.5, 2000.0
    while hi / lo > 1.005:
        mid = math.sqrt(lo * hi)
        passes = simulated_p99_ms(mid, max_batch, warmup_s, step_s) < LIMIT_MS
        lo, hi = (mid, hi) if passes else (lo, mid)
    return lo


def search(tmp: Path, url: str, name: str, seed: int = 0) -> dict[str, Any]:
    return run_capacity(scenario(url, seed), out_dir=tmp / name).document


def test_truth_model_matches_the_service_time_of_one_answer() -> None:
    profile = load_profile("0.9b")
    service_s = (
        profile.prefill_ms(PROMPT_TOKENS) + OUTPUT_TOKENS * profile.decode_step_ms(1, 72)
    ) / 1e3
    truth = engine_truth(1)
    assert 1 / service_s < truth < 1.15 / service_s  # just above the service capacity
    assert engine_truth(OPTIMIZED_BATCH) > 3 * truth


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_capacity_matches_the_engine_truth_and_the_optimisation(tmp_path: Path) -> None:
    with running_reference_agent(tmp_path / "b", "--profile", "baseline") as url:
        baseline = search(tmp_path, url, "baseline")
        again = search(tmp_path, url, "baseline-seed-7", seed=7)
    flags = ("--profile", "optimized", "--max-batch", str(OPTIMIZED_BATCH))
    with running_reference_agent(tmp_path / "o", *flags) as url:
        optimized = search(tmp_path, url, "optimized")
    for name, doc in (("baseline", baseline), ("optimized", optimized)):
        assert doc["status"] == "found", doc["stop_reason"]
        assert (tmp_path / name / "capacity.json").is_file()
        assert doc["elapsed_s"] <= 80 + 10  # the budget, with one step's overshoot at most
    truth = engine_truth(1)
    assert abs(baseline["capacity"] / truth - 1) <= 0.15, (baseline["capacity"], truth)
    assert optimized["capacity"] >= 3 * baseline["capacity"]
    optimized_truth = engine_truth(OPTIMIZED_BATCH)
    assert abs(optimized["capacity"] / optimized_truth - 1) <= 0.15, (
        optimized["capacity"],
        optimized_truth,
    )
    # Another seed lands inside the first search's bounds, give or take one step of the
    # search's resolution (5%): the step at either bound passed or failed with a p99 near
    # the limit, which another seed's traffic may tip the other way (seen: 4% below).
    step = 1.05
    upper = baseline["upper"] * step if baseline["upper"] is not None else math.inf
    assert baseline["lower"] / step <= again["capacity"] <= upper, (baseline, again["capacity"])
