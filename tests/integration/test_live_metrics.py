"""``--metrics-port``: Prometheus metrics scraped while a real run against the reference
agent is going on, and the option's errors."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agentload import api
from agentload.cli.progress import thresholds_state
from agentload.config.models import Scenario
from agentload.engine.live_metrics import Endpoint, LiveMetrics
from agentload.slo.evaluate import Verdict
from tests.e2e.test_cli import agentload, assert_no_traceback


def scenario(url: str) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "live",
            "seed": 3,
            "target": {"base_url": url, "protocol": "openai-chat"},
            "load": {"model": "open", "arrival": "constant", "rate": 40, "duration": 3.0},
            "request": {"prompt_tokens": 50, "max_tokens": 8, "stream": True},
            "thresholds": ["p99(latency) < 60s", "error_rate < 50%"],
        }
    )


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str) -> float:
    return sum(samples.get(name, {}).values())


def test_scraped_during_a_real_run(fast_agent: str, tmp_path: Path) -> None:
    metrics = LiveMetrics(name="live", protocol="openai-chat")
    port = metrics.serve(Endpoint("127.0.0.1", 0))
    result: list[api.RunResult] = []
    thread = threading.Thread(
        target=lambda: result.append(
            api.run(scenario(fast_agent), out_dir=tmp_path / "run", live_metrics=metrics)
        )
    )
    try:
        thread.start()
        time.sleep(1.5)
        during = scrape(port)
        thread.join(timeout=30)
        assert not thread.is_alive()
        after = scrape(port)
    finally:
        metrics.close()
    summary = result[0].summary
    # mid-run: requests are being counted, the rate and clock are moving
    assert 0 < total(during, "agentload_requests_total") < summary.requests
    assert 0 < during["agentload_elapsed_seconds"][()] < 3.5
    assert 20 <= during["agentload_achieved_rate_per_second"][()] <= 60
    # at the end the counters match the summary exactly
    ok_key = (("action", "chat"), ("error_kind", ""), ("outcome", "ok"))
    assert after["agentload_requests_total"][ok_key] == summary.ok
    assert total(after, "agentload_requests_total") == summary.requests
    count = after["agentload_request_latency_seconds_count"][(("action", "chat"),)]
    assert count == summary.ok
    buckets = after["agentload_request_latency_seconds_bucket"]
    assert buckets[(("action", "chat"), ("le", "+Inf"))] == summary.ok
    assert after["agentload_ttft_seconds_count"][(("action", "chat"),)] == summary.ok
    passing = after["agentload_threshold_passing"]
    assert set(passing.values()) == {1.0} and len(passing) == 2, passing
    assert after["agentload_run_info"] == {(("name", "live"), ("protocol", "openai-chat")): 1.0}


def test_bad_or_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    example = tmp_path / "s.yaml"
    example.write_text(
        "target:\n  base_url: http://127.0.0.1:9\nload:\n  rate: 5/s\n  duration: 1s\n"
        "request:\n  prompt_tokens: 10\n"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for value, words in (("http", "give a port"), ("70000", "give a port"), (str(port), "")):
            proc = agentload("run", str(example), "--metrics-port", value, "-q")
            assert proc.returncode == 2, proc.stderr
            assert_no_traceback(proc)
            assert proc.stderr.startswith("error: --metrics-port") and words in proc.stderr
            assert proc.stderr.count("\n") == 1, proc.stderr


def test_live_display_line_names_failing_thresholds() -> None:
    def verdict(expr: str, ok: bool | None) -> Verdict:
        return Verdict(expr, ok, None, 1.0, "ms", None, None, 0, ok is None, False)

    assert thresholds_state([]) is None
    mixed = [
        verdict("p99(latency) < 1s", True),
        verdict("error_rate < 1%", False),
        verdict("p95(ttft) < 2s", None),
    ]
    assert thresholds_state(mixed) == (
        "thresholds so far: 1 pass; 1 FAIL: error_rate < 1%; 1 no data yet",
        "red",
    )
    assert thresholds_state(mixed[:1]) == ("thresholds so far: 1 pass", "green")
    many = thresholds_state([verdict(f"p{i}(latency) < 1ms", False) for i in range(50, 55)])
    assert many is not None and many[0].endswith("p52(latency) < 1ms and 2 more")
