"""Telemetry during a real run against the reference agent: what lands in telemetry.jsonl."""

from __future__ import annotations

import itertools
import json
import socket
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.clock import NS_PER_S
from agentload.config import Scenario, parse_scenario
from agentload.records.samples import read_samples, series
from agentload.telemetry.gpu import load_nvml

pytestmark = pytest.mark.timeout(90)
INTERVAL_S = 0.2


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but never listening: connections are refused, and while the test runs
    no other server can take it (a released free port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def scenario(url: str, telemetry: dict[str, Any], duration: str = "2s") -> Scenario:
    data = {
        "name": "telemetry",
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": {"model": "closed", "users": 4, "duration": duration},
        "request": {"prompt_tokens": 32, "max_tokens": 8},
        "telemetry": telemetry,
    }
    return parse_scenario(yaml.safe_dump(data), source="test.yaml")


def test_collectors_sample_on_the_run_clock(fast_agent: str, tmp_path: Path) -> None:
    telemetry = {
        "interval": f"{INTERVAL_S}s",
        "host": {"processes": ["agentload agent serve"]},
        "prometheus": [{"url": f"{fast_agent}/metrics", "series": ["agentload_agent_turns"]}],
    }
    result = api.run(scenario(fast_agent, telemetry), out_dir=tmp_path / "run")
    meta = json.loads((result.run_dir / "meta.json").read_text())
    samples = read_samples(result.run_dir)
    by_collector = {c: [s for s in samples if s.collector == c] for c in ("host", "prometheus")}
    generator = [s for s in samples if s.collector == "generator"]
    end_ns = meta["load_window_s"] * NS_PER_S + 2 * INTERVAL_S * NS_PER_S
    for name, found in {**by_collector, "generator": generator}.items():
        times = [s.at_ns for s in found]
        # ~2 s at 0.2 s: about 10 ticks; a loaded machine may skip some, never add any.
        assert 6 <= len(times) <= 14, (name, len(times))
        assert all(0 <= t <= end_ns for t in times), name
        # Ticks sit on the interval's grid (the first one is late by the run's set-up).
        gaps_s = [(b - a) / NS_PER_S for a, b in itertools.pairwise(times[1:])]
        assert min(gaps_s) >= 0.5 * INTERVAL_S, (name, gaps_s)
        assert 0.8 * INTERVAL_S <= statistics.median(gaps_s) <= 1.3 * INTERVAL_S, gaps_s
    _, cpu = series(samples, "cpu_percent")
    assert cpu and all(0 <= v <= 100 for v in cpu)
    assert series(samples, "cpu0_percent")[1]
    assert series(samples, "mem_used_bytes")[1][0] > 0
    assert series(samples, "net_recv_bytes_per_s")[1]
    # The agent's process was found by its command line and is busy serving.
    assert max(series(samples, "proc.agentload_agent_serve.count")[1]) >= 1
    assert max(series(samples, "proc.agentload_agent_serve.rss_bytes")[1]) > 10e6
    assert max(series(samples, "proc.agentload_agent_serve.cpu_percent")[1]) > 0
    # The agent's own gauges under their names and the normalised aliases.
    assert series(samples, "agentload_agent_engine_queue_depth")[1]
    assert max(series(samples, "server.running")[1]) >= 1
    assert max(series(samples, "agentload_agent_turns.per_s")[1]) > 0
    in_flight = series(samples, "generator.in_flight")[1]
    assert max(in_flight) >= 1 and max(in_flight) <= 4
    assert max(series(samples, "generator.open_sockets")[1]) >= 1
    assert series(samples, "generator.loop_lag_ms")[1]
    assert meta["telemetry"]["generator"]["samples"] >= 5
    assert not any("telemetry" in w for w in result.summary.warnings)


def test_missing_nvml_is_one_warning_and_the_run_goes_on(fast_agent: str, tmp_path: Path) -> None:
    nvml = load_nvml()
    if nvml is not None:
        try:
            nvml.nvmlInit()
        except nvml.NVMLError:
            pass
        else:
            nvml.nvmlShutdown()
            pytest.skip("this machine has a working NVML; bench/gpu_check.py covers it")
    # Limits no generator can stay under, so that the verdict's warning shows up too.
    limits = {"cpu_saturated_percent": 0.001, "loop_lag_limit_ms": 0.0001}
    result = api.run(
        scenario(fast_agent, {"interval": "0.1s", "gpu": {}, "generator": limits}, "1s"),
        out_dir=tmp_path / "run",
    )
    assert result.summary.ok > 0
    gpu_warnings = [w for w in result.summary.warnings if w.startswith("gpu telemetry off")]
    assert len(gpu_warnings) == 1
    assert not [s for s in read_samples(result.run_dir) if s.collector == "gpu"]
    saturated = [w for w in result.summary.warnings if w.startswith("generator saturated from t=")]
    assert len(saturated) == 1
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["telemetry"]["generator"]["saturated"] is True
    # `report` re-summarises from the run directory and keeps both warnings.
    summary, _, _ = api.summarize_run_dir(result.run_dir)
    assert gpu_warnings[0] in summary.warnings and saturated[0] in summary.warnings
    assert json.loads((result.run_dir / "summary.json").read_text())["warnings"] == list(
        summary.warnings
    )


def test_unreachable_scrape_target_is_a_warning(
    fast_agent: str, tmp_path: Path, refused_port: int
) -> None:
    dead = f"http://127.0.0.1:{refused_port}/metrics"
    result = api.run(
        scenario(fast_agent, {"interval": "0.1s", "prometheus": [{"url": dead}]}, "1s"),
        out_dir=tmp_path / "run",
    )
    assert result.summary.ok > 0
    notes = [w for w in result.summary.warnings if w.startswith("prometheus: cannot scrape")]
    assert len(notes) == 1 and dead in notes[0]
