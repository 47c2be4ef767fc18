"""``--metrics-port``: Prometheus metrics scraped while a real run against the reference
agent is going on, and the option's errors."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentload import api
from agentload.cli.progress import thresholds_state
from agentload.config.models import Scenario
from agentload.engine.live_metrics import Endpoint, LiveMetrics
from agentload.errors import UsageError
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
    return scrape_url(f"http://127.0.0.1:{port}/metrics")


def scrape_url(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(url, timeout=5) as response:
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


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("9464", "127.0.0.1", 9464),
        ("0.0.0.0:9464", "0.0.0.0", 9464),
        ("localhost:0", "localhost", 0),
        ("[::1]:9100", "::1", 9100),
        ("[::]:9464", "::", 9464),
    ],
)
def test_endpoint_forms(text: str, host: str, port: int) -> None:
    endpoint = Endpoint.parse(text)
    assert (endpoint.host, endpoint.port) == (host, port)
    bracketed = f"[{host}]" if ":" in host else host
    assert endpoint.url(8000) == f"http://{bracketed}:8000/metrics"


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("::1", "an IPv6 host goes in brackets with a port, e.g. [::1]:9464"),
        ("::1:9100", "an IPv6 host goes in brackets with a port, e.g. [::1]:9100"),
        ("2001:db8::1", "e.g. [2001:db8::1]:9464"),
        ("[::1]", "write an IPv6 host in brackets with a port, e.g. [::1]:9464"),
        ("[::1]:", "write an IPv6 host in brackets with a port"),
        ("[::1]9100", "write an IPv6 host in brackets with a port"),
        ("[localhost]:9100", "write an IPv6 host in brackets with a port"),
        (":9464", "give a port (0-65535), HOST:PORT or [IPV6]:PORT"),
        ("[::1]:70000", "give a port (0-65535)"),
    ],
)
def test_bad_endpoint_forms_name_the_fix(text: str, fix: str) -> None:
    with pytest.raises(UsageError) as caught:
        Endpoint.parse(text)
    assert str(caught.value).startswith(f"--metrics-port {text!r}: ") and fix in str(caught.value)


@needs_ipv6
def test_scraped_over_ipv6_loopback_during_a_cli_run(fast_agent: str, tmp_path: Path) -> None:
    example = tmp_path / "s.yaml"
    example.write_text(
        f"name: v6\ntarget:\n  base_url: {fast_agent}\n  protocol: openai-chat\n"
        "load:\n  rate: 30/s\n  duration: 3s\n"
        "request:\n  prompt_tokens: 20\n  max_tokens: 4\n  stream: true\n"
        "thresholds:\n  - error_rate < 50%\n"
    )
    command = [sys.executable, "-m", "agentload", "run", str(example), "-q"]
    command += ["--metrics-port", "[::1]:0", "--out", str(tmp_path / "run")]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # printed before the first request is sent
            found = re.fullmatch(r"live metrics: http://\[::1\]:(\d+)/metrics\n", line)
            assert found is not None, line
            url = f"http://[::1]:{found.group(1)}/metrics"
            time.sleep(1.5)
            during = scrape_url(url)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    # 0, or 1 if the shared host made the agent fail its threshold: the endpoint is the point
    assert proc.returncode in (0, 1) and "Traceback" not in err, out + err
    assert total(during, "agentload_requests_total") > 0
    assert during["agentload_run_info"] == {(("name", "v6"), ("protocol", "openai-chat")): 1.0}
    assert during["agentload_threshold_passing"] == {(("threshold", "error_rate < 50%"),): 1.0}


def test_ipv6_forms_on_the_command_line(tmp_path: Path) -> None:
    example = tmp_path / "s.yaml"
    example.write_text(
        "target:\n  base_url: http://127.0.0.1:9\nload:\n  rate: 5/s\n  duration: 1s\n"
        "request:\n  prompt_tokens: 10\n"
    )
    cases = [("::1", "e.g. [::1]:9464"), ("[::1]", "brackets with a port")]
    if not has_ipv6_loopback():  # the address exists nowhere here: a one-line error too
        cases.append(("[::1]:0", "cannot listen"))
    for value, words in cases:
        proc = agentload("run", str(example), "--metrics-port", value, "-q")
        assert proc.returncode == 2, proc.stderr
        assert_no_traceback(proc)
        assert proc.stderr.startswith("error: --metrics-port") and words in proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-such-host.invalid:0", "cannot resolve the host 'no-such-host.invalid'"),
        ("192.0.2.1:0", "192.0.2.1:0: cannot listen: "),  # TEST-NET-1: no machine has it
    ],
)
def test_a_host_that_cannot_be_served_names_the_fix(text: str, message: str) -> None:
    metrics = LiveMetrics(name="x", protocol="http")
    with pytest.raises(UsageError) as caught:
        metrics.serve(Endpoint.parse(text))
    assert message in str(caught.value)
    assert "choose another port" not in str(caught.value)  # a port would not fix it
