"""The optimisation the reference agent exists to demonstrate, measured with agentload itself:
the optimized profile (async, batched) carries at least 3x the request rate of the baseline
profile (one request at a time), and does so without a worse p99."""

from __future__ import annotations

from pathlib import Path

import yaml

from agentload import api
from agentload.config import parse_scenario
from tests.conftest import running_reference_agent


def measure(url: str, out: Path) -> api.RunResult:
    data = {
        "name": "capacity",
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": {"model": "closed", "users": 16, "duration": "3s", "grace": "10s"},
        "request": {"prompt_tokens": 64, "max_tokens": 16, "stream": True},
    }
    return api.run(parse_scenario(yaml.safe_dump(data), source="capacity.yaml"), out_dir=out)


def test_optimized_sustains_three_times_the_baseline_rate(tmp_path: Path) -> None:
    common = ("--speed", "10", "--seed", "1")
    with running_reference_agent(tmp_path / "b", *common, "--profile", "baseline") as url:
        baseline = measure(url, tmp_path / "baseline").summary
    with running_reference_agent(tmp_path / "o", *common, "--profile", "optimized") as url:
        optimized = measure(url, tmp_path / "optimized").summary
    assert baseline.error == optimized.error == 0
    assert baseline.ok_per_s and optimized.ok_per_s
    assert optimized.ok_per_s >= 3 * baseline.ok_per_s, (baseline.ok_per_s, optimized.ok_per_s)
    baseline_p99 = baseline.metrics["latency_ms"].p99
    optimized_p99 = optimized.metrics["latency_ms"].p99
    assert baseline_p99 is not None and optimized_p99 is not None
    assert optimized_p99 <= baseline_p99
