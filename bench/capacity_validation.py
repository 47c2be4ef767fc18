"""Capacity search against the truth, the long version of tests/integration/test_capacity_truth.

For each reference-agent profile (baseline; optimized with max_batch 8) and each seed, runs
``agentload capacity`` with longer steps and a finer resolution than the test, and compares
the capacity with the engine's truth (the rate at which the p99 of a step's window crosses
the limit on a replay of the engine's step schedule, computed from its calibrated costs).

    .venv/bin/python bench/capacity_validation.py [--step 8] [--warmup 2] [--seeds 0 1 2]

Prints one row per search and, per profile, whether every seed's capacity lies inside every
other search's bounds. Takes a few minutes per search.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentload.capacity_runner import run_capacity  # noqa: E402
from agentload.config import parse_scenario  # noqa: E402
from tests.conftest import running_reference_agent  # noqa: E402
from tests.integration.test_capacity_truth import (  # noqa: E402
    LIMIT_MS,
    OPTIMIZED_BATCH,
    OUTPUT_TOKENS,
    PROMPT_TOKENS,
    engine_truth,
)

PROFILES = {
    "baseline": (("--profile", "baseline"), 1),
    "optimized": (("--profile", "optimized", "--max-batch", str(OPTIMIZED_BATCH)), OPTIMIZED_BATCH),
}


def scenario(url: str, seed: int, step_s: float, warmup_s: float, budget_s: float) -> Any:
    data = {
        "name": "capacity-validation",
        "seed": seed,
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": {"model": "open", "arrival": "constant", "rate": 1, "duration": 1},
        "request": {"prompt_tokens": PROMPT_TOKENS, "max_tokens": OUTPUT_TOKENS},
        "thresholds": [f"p99(latency) < {LIMIT_MS:g}ms", "error_rate < 1%"],
        "capacity": {
            "vary": "rate",
            "start": 2,
            "max": 400,
            "resolution": "3%",
            "step_duration": step_s,
            "warmup": warmup_s,
            "repeats": 3,
            "budget": budget_s,
        },
    }
    return parse_scenario(yaml.safe_dump(data), source="capacity-validation.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=8.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per search")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--out", type=Path, help="keep the capacity directories here")
    args = parser.parse_args()
    print(
        f"{'profile':<10} {'seed':>4} {'capacity':>9} {'bounds':>15} {'truth':>7} "
        f"{'error':>7} {'steps':>5} {'time':>6}"
    )
    found: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.out or Path(scratch)
        for profile in args.profiles:
            flags, batch = PROFILES[profile]
            truth = engine_truth(batch, args.warmup, args.step)
            with running_reference_agent(tmp / f"agent-{profile}", *flags) as url:
                for seed in args.seeds:
                    started = time.monotonic()
                    out = tmp / f"{profile}-{seed}"
                    doc = run_capacity(
                        scenario(url, seed, args.step, args.warmup, args.budget), out_dir=out
                    ).document
                    found.setdefault(profile, []).append(doc)
                    capacity = doc["capacity"] or 0.0
                    upper = doc["upper"]
                    bounds = (
                        f"{doc['lower']:.2f}..{upper:.2f}" if upper else f"{doc['lower']:.2f}.."
                    )
                    print(
                        f"{profile:<10} {seed:>4} {capacity:>9.2f} {bounds:>15} {truth:>7.2f} "
                        f"{capacity / truth - 1:>+7.1%} {len(doc['steps']):>5} "
                        f"{time.monotonic() - started:>5.0f}s",
                        flush=True,
                    )
    for profile, docs in found.items():
        inside = all(
            other["lower"] <= doc["capacity"] <= (other["upper"] or float("inf"))
            for doc in docs
            for other in docs
        )
        print(f"{profile}: every seed inside every other search's bounds: {inside}")
    if "baseline" in found and "optimized" in found:
        ratio = found["optimized"][0]["capacity"] / found["baseline"][0]["capacity"]
        print(f"optimized / baseline capacity: {ratio:.2f}x")


if __name__ == "__main__":
    main()
