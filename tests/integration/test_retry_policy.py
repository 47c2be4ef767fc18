"""target.retry against real misbehaving servers: one record per logical request, honest
counts of attempts, Retry-After honoured, the budget bounding the extra load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.config import Scenario, parse_scenario
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir
from tests.conftest import free_port
from tests.hostile_server import HostileServer, hostile_server

FAST_BACKOFF = {"initial": "10ms", "multiplier": 2, "max": "50ms", "jitter": 0.2}


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def retry_scenario(
    base_url: str, behaviour: str, retry: dict[str, Any] | None, load: dict[str, Any]
) -> Scenario:
    target: dict[str, Any] = {
        "base_url": base_url,
        "protocol": "http",
        "timeouts": {"connect": "0.5s", "first_byte": "2s", "total": "3s"},
    }
    if retry is not None:
        target["retry"] = retry
    data = {
        "name": "retry",
        "seed": 5,
        "target": target,
        "load": load,
        "request": {"method": "POST", "path": f"/{behaviour}", "body": {"q": 1}},
    }
    return parse_scenario(yaml.safe_dump(data), source="retry.yaml")


ONE_USER = {"model": "closed", "users": 1, "requests": 6}


def run(scenario: Scenario, out: Path) -> tuple[list[RequestRecord], dict[str, Any]]:
    api.run(scenario, out_dir=out)
    records = sorted(RunDir.open(out).iter_records(), key=lambda r: r.seq)
    return records, json.loads((out / "summary.json").read_text())


def test_retries_are_attempts_of_one_request_and_the_summary_says_what_they_cost(
    server: HostileServer, tmp_path: Path
) -> None:
    # Two of every three requests fail with 503: one user, so each request needs 3 attempts.
    retry = {"on": ["http_5xx"], "max_attempts": 3, "budget": "300%", "backoff": FAST_BACKOFF}
    records, summary = run(retry_scenario(server.url, "flaky", retry, ONE_USER), tmp_path / "r")
    assert [r.seq for r in records] == list(range(6))  # one record per logical request
    assert all(r.outcome is Outcome.OK for r in records)
    assert all(r.attempts == 3 and r.first_error_kind is ErrorKind.HTTP_5XX for r in records)
    assert server.state.requests["flaky"] == 18
    retries = summary["retries"]
    assert retries["attempts"] == 18
    assert retries["retried"] == 6
    assert retries["retry_amplification"] == pytest.approx(3.0)
    assert retries["first_attempt_success_rate"] == 0.0
    assert retries["eventual_success_rate"] == 1.0
    assert summary["counts"]["ok"] == 6
    assert (
        "6 requests were retried (x3.00 attempts per request): first-attempt success 0.0%, "
        "eventual 100.0%" in summary["warnings"]
    )
    # Latency covers every attempt and wait: at least the two backoffs (~10 ms + ~20 ms).
    assert all(r.latency_ms is not None and r.latency_ms >= 20 for r in records)


def test_without_a_policy_nothing_is_retried(server: HostileServer, tmp_path: Path) -> None:
    records, summary = run(retry_scenario(server.url, "flaky", None, ONE_USER), tmp_path / "r")
    assert server.state.requests["flaky"] == 6
    assert [r.outcome for r in records].count(Outcome.OK) == 2
    assert all(r.attempts == 1 for r in records)
    assert summary["retries"]["retry_amplification"] == 1.0
    assert summary["retries"]["first_attempt_success_rate"] == pytest.approx(2 / 6)
    assert summary["retries"]["eventual_success_rate"] == pytest.approx(2 / 6)


@pytest.mark.parametrize("honour", [True, False])
def test_retry_after_is_honoured_when_asked(
    server: HostileServer, tmp_path: Path, honour: bool
) -> None:
    retry = {
        "on": ["http_429"],
        "max_attempts": 2,
        "budget": "100%",
        "backoff": FAST_BACKOFF,
        "honour_retry_after": honour,
    }
    load = {"model": "closed", "users": 2, "requests": 2}
    records, _ = run(retry_scenario(server.url, "rate_limited", retry, load), tmp_path / "r")
    assert len(records) == 2 and server.state.requests["rate_limited"] == 4
    assert all(r.attempts == 2 and r.error_kind is ErrorKind.HTTP_429 for r in records)
    latencies = [r.service_ms or 0.0 for r in records]
    if honour:  # Retry-After: 1
        assert all(latency >= 950 for latency in latencies), latencies
    else:
        assert all(latency < 900 for latency in latencies), latencies


def test_the_budget_bounds_retries_against_a_failing_target(
    server: HostileServer, tmp_path: Path
) -> None:
    retry = {
        "on": ["http_5xx"],
        "max_attempts": 5,
        "budget": "0%",
        "min_retries": 3,
        "backoff": FAST_BACKOFF,
    }
    load = {"model": "closed", "users": 1, "requests": 20}
    records, summary = run(retry_scenario(server.url, "server_error", retry, load), tmp_path / "r")
    assert len(records) == 20
    assert server.state.requests["server_error"] == 23  # 20 requests + the 3 retries allowed
    assert summary["retries"]["attempts"] == 23
    assert all(r.outcome is Outcome.ERROR for r in records)


def test_kinds_not_listed_are_not_retried(server: HostileServer, tmp_path: Path) -> None:
    retry = {"on": ["http_429"], "backoff": FAST_BACKOFF}
    records, _ = run(retry_scenario(server.url, "server_error", retry, ONE_USER), tmp_path / "r")
    assert server.state.requests["server_error"] == 6
    assert all(r.attempts == 1 and r.first_error_kind is None for r in records)


def test_refused_connections_are_retried_and_still_fail_honestly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    retry = {"max_attempts": 3, "budget": "200%", "backoff": FAST_BACKOFF}
    records, summary = run(retry_scenario(url, "ok", retry, ONE_USER), tmp_path / "r")
    assert all(r.error_kind is ErrorKind.CONNECT_REFUSED and r.attempts == 3 for r in records)
    assert summary["retries"]["eventual_success_rate"] == 0.0
    assert summary["errors_by_kind"] == {"connect_refused": 6}
