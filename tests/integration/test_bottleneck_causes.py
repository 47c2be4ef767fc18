"""The bottleneck named for runs against the reference agent with one injected cause each.

Each cause is made unambiguous by the agent's simulation (a store that takes 150 ms per
operation against ~60 ms of inference; one batch slot for eight users; a 500 ms tool), so a
wrong name is a failure of the analysis, not noise. Latencies are hundreds of milliseconds so
that the scheduling jitter of a busy test machine stays a small share of them.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from agentload import api
from agentload.config import parse_scenario
from tests.conftest import running_reference_agent


def run(url: str, out: Path, load: dict[str, Any], request: dict[str, Any], protocol: str):
    data = {
        "name": out.name,
        "seed": 3,
        "target": {"base_url": url, "protocol": protocol},
        "load": load,
        "request": request,
    }
    return api.run(parse_scenario(yaml.safe_dump(data), source=f"{out.name}.yaml"), out_dir=out)


def sessions_load(rate: str) -> dict[str, Any]:
    return {
        "model": "sessions",
        "arrival": "constant",
        "rate": rate,
        "duration": "3s",
        "turns": 2,
        "think_time": {"min": "50ms", "max": "50ms"},
    }


def agent_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return str(path)


def test_a_slow_context_store_is_named(tmp_path: Path) -> None:
    config = agent_config(tmp_path, "faults: {store_latency_ms: 150}\n")
    with running_reference_agent(tmp_path / "a", "--speed", "2", "--config", config) as url:
        result = run(
            url,
            tmp_path / "store",
            sessions_load("6/s"),
            {"prompt_tokens": 30, "max_tokens": 8, "tools": []},
            "agent-session",
        )
    found = result.summary.bottleneck
    assert found is not None and found.name == "context_store", found
    assert found.confidence >= 0.6 and found.trustworthy
    assert any("store_read" in line and "store_write" in line for line in found.evidence)
    # ``agentload report`` recomputes the same verdict from the run directory alone.
    again, _, _ = api.summarize_run_dir(result.run_dir)
    assert again.bottleneck is not None and again.bottleneck.name == "context_store"


def test_too_small_a_batch_is_named_inference_queueing(tmp_path: Path) -> None:
    with running_reference_agent(tmp_path / "a", "--speed", "2", "--max-batch", "1") as url:
        result = run(
            url,
            tmp_path / "queue",
            {"model": "closed", "users": 8, "duration": "3s", "grace": "10s"},
            {"prompt_tokens": 64, "max_tokens": 16, "stream": True},
            "openai-chat",
        )
    found = result.summary.bottleneck
    assert found is not None and found.name == "inference_queue", found
    assert found.confidence >= 0.6
    assert found.details["causes"]["all"]["inference_queue"] > 0.5


def test_slow_tools_are_named(tmp_path: Path) -> None:
    config = agent_config(
        tmp_path, "tools:\n  - {name: search, latency_ms_median: 500, latency_sigma: 0}\n"
    )
    with running_reference_agent(tmp_path / "a", "--speed", "4", "--config", config) as url:
        result = run(
            url,
            tmp_path / "tools",
            sessions_load("6/s"),
            {"content": "search for cheap flights to Paris", "max_tokens": 8, "tools": ["search"]},
            "agent-session",
        )
    found = result.summary.bottleneck
    assert found is not None and found.name == "tool_calls", found
    assert found.confidence >= 0.5


def test_a_healthy_run_names_no_bottleneck(tmp_path: Path) -> None:
    with running_reference_agent(tmp_path / "a", "--speed", "2") as url:
        result = run(
            url,
            tmp_path / "healthy",
            {"model": "open", "arrival": "constant", "rate": "10/s", "duration": "3s"},
            {"prompt_tokens": 32, "max_tokens": 32, "stream": True},
            "openai-chat",
        )
    summary = result.summary
    assert summary.ok >= 25 and summary.error == 0
    found = summary.bottleneck
    assert found is not None and found.name == "none", found
    assert not any("untrustworthy" in w for w in summary.warnings)


@contextmanager
def starved_interpreter(switch_interval_s: float) -> Iterator[None]:
    """A thread that never blocks holds the GIL for ``switch_interval_s`` at a time, so this
    process's event loop (the load generator) gets the CPU only in between: a generator
    starved of CPU whatever else the machine is doing."""
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    before = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval_s)
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        sys.setswitchinterval(before)


def test_a_starved_generator_is_named_and_the_run_untrustworthy(tmp_path: Path) -> None:
    with (
        running_reference_agent(tmp_path / "a", "--speed", "10") as url,
        starved_interpreter(0.05),
    ):
        result = run(
            url,
            tmp_path / "starved",
            {"model": "open", "arrival": "constant", "rate": "40/s", "duration": "3s"},
            {"prompt_tokens": 32, "max_tokens": 8, "stream": True},
            "openai-chat",
        )
    summary = result.summary
    found = summary.bottleneck
    assert found is not None and found.name == "load_generator", found
    assert not found.trustworthy
    assert any(w.startswith("run untrustworthy") for w in summary.warnings)
    written = json.loads(result.run_dir.joinpath("summary.json").read_text())
    assert written["trustworthy"] is False and written["bottleneck"]["trustworthy"] is False


def test_overload_steps_with_telemetry_name_the_queue_with_its_growth(tmp_path: Path) -> None:
    """One batch slot (~9 requests/s) at 3/s, then 12/s: the queue builds up in the second
    step, and the agent's own queue depth, scraped from /metrics, rises with latency."""
    with running_reference_agent(tmp_path / "a", "--speed", "2", "--max-batch", "1") as url:
        data = {
            "name": "overload",
            "seed": 3,
            "target": {"base_url": url, "protocol": "openai-chat"},
            "load": {
                "arrival": {
                    "kind": "profile",
                    "spacing": "constant",
                    "segments": [
                        {"kind": "hold", "duration": "2s", "rate": "3/s"},
                        {"kind": "hold", "duration": "4s", "rate": "12/s"},
                    ],
                },
            },
            "request": {"prompt_tokens": 64, "max_tokens": 16, "stream": True},
            "telemetry": {"interval": "0.25s", "prometheus": [{"url": f"{url}/metrics"}]},
        }
        scenario = parse_scenario(yaml.safe_dump(data), source="overload.yaml")
        result = api.run(scenario, out_dir=tmp_path / "overload")
    found = result.summary.bottleneck
    assert found is not None and found.name == "inference_queue", found
    steps = found.details["load_steps"]
    assert [round(s["due_per_s"]) for s in steps] == [3, 12]
    assert steps[1]["causes"]["inference_queue"] > steps[0]["causes"]["inference_queue"] + 0.3
    assert any(line.startswith("server.queue_length rises with latency") for line in found.evidence)
    assert found.confidence >= 0.9


def test_an_async_job_run_is_not_blamed_on_the_generator(tmp_path: Path) -> None:
    """The shipped research-agent example: its polling is the client's way of waiting, a
    cause of its own that never makes the run untrustworthy."""
    data = yaml.safe_load(Path("examples/research-agent-tasks.yaml").read_text())
    with running_reference_agent(tmp_path / "a", "--speed", "4") as url:
        data["target"]["base_url"] = url
        data["load"]["duration"] = "8s"  # as in the run that was misjudged
        result = api.run(
            parse_scenario(yaml.safe_dump(data), source="r.yaml"), out_dir=tmp_path / "r"
        )
    summary = result.summary
    found = summary.bottleneck
    assert found is not None and found.name != "load_generator", found
    assert found.trustworthy and summary.ok >= 20
    assert not any(w.startswith("run untrustworthy") for w in summary.warnings)
    assert not summary.untrustworthy_because
    causes = found.details["causes"]["all"]
    assert (
        causes.get("polling", 0.0) > 0.02 and "poll_overhead" in found.details["components"]["all"]
    )
    assert any(line.startswith("poll overhead ") for line in found.evidence) == (
        found.details["components"]["all"]["poll_overhead"] >= 0.05
    )
