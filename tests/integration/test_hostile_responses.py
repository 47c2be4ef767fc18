"""Every way a target can misbehave, for both the openai-chat and http protocols.

For each behaviour of ``tests.hostile_server`` a short run asserts what a user relies on:
the run ends within its schedule plus the timeouts and the grace period, every request that
came due is exactly one record (each ``seq`` once, and the server saw each sent request once:
no hidden retries), and the failure has the right error kind in the records and the summary.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.config import Scenario, parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from tests.conftest import free_port
from tests.hostile_server import HostileServer, hostile_server

REQUESTS = 4
RATE_PER_S = 20.0
# Generous for a loaded machine (a prompt answer must never time out); only the hang and
# stall cases wait for them.
FIRST_BYTE_S = 1.0
TOTAL_S = 1.5
CAP_BYTES = 1 << 20
# Grace is total + 1 s by default; CPU contention on a shared machine gets 3 s more.
BOUND_S = REQUESTS / RATE_PER_S + TOTAL_S + (TOTAL_S + 1.0) + 3.0

OK = None
# behaviour -> expected error kind (None: ok) for openai-chat (stream and not) and http
CASES: dict[str, tuple[ErrorKind | None, ErrorKind | None]] = {
    "ok": (OK, OK),
    "hang": (ErrorKind.FIRST_BYTE_TIMEOUT, ErrorKind.FIRST_BYTE_TIMEOUT),
    "close_at_once": (ErrorKind.CONNECTION_RESET, ErrorKind.CONNECTION_RESET),
    "stall_after_headers": (ErrorKind.TOTAL_TIMEOUT, ErrorKind.TOTAL_TIMEOUT),
    "reset_mid_body": (ErrorKind.CONNECTION_RESET, ErrorKind.CONNECTION_RESET),
    "reset_mid_stream": (ErrorKind.CONNECTION_RESET, ErrorKind.CONNECTION_RESET),
    # Plain http judges a response by its status only: a 200 with any body is a success.
    "sse_without_data": (ErrorKind.PROTOCOL_ERROR, OK),
    "sse_invalid_json": (ErrorKind.PROTOCOL_ERROR, OK),
    "sse_no_done": (ErrorKind.PROTOCOL_ERROR, OK),
    # The answer is complete at [DONE]; plain http waits for a body that never ends.
    "sse_open_after_done": (OK, ErrorKind.TOTAL_TIMEOUT),
    "sse_error_event": (ErrorKind.PROTOCOL_ERROR, OK),
    "error_in_200": (ErrorKind.PROTOCOL_ERROR, OK),
    "huge_body": (ErrorKind.BODY_TOO_LARGE, ErrorKind.BODY_TOO_LARGE),
    "endless_body": (ErrorKind.BODY_TOO_LARGE, ErrorKind.BODY_TOO_LARGE),
    "endless_stream": (ErrorKind.BODY_TOO_LARGE, ErrorKind.BODY_TOO_LARGE),
    "rate_limited": (ErrorKind.HTTP_429, ErrorKind.HTTP_429),
    "rate_limited_bare": (ErrorKind.HTTP_429, ErrorKind.HTTP_429),
    "server_error": (ErrorKind.HTTP_5XX, ErrorKind.HTTP_5XX),
    "slow_bytes": (OK, OK),
    "garbage_status": (ErrorKind.PROTOCOL_ERROR, ErrorKind.PROTOCOL_ERROR),
}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def hostile_scenario(
    base_url: str, protocol: str, behaviour: str, *, stream: bool = True, **target: Any
) -> Scenario:
    if protocol == "openai-chat":
        request: dict[str, Any] = {
            "path": f"/v1/{behaviour}",
            "prompt_tokens": 8,
            "max_tokens": 4,
            "stream": stream,
        }
    else:
        request = {"method": "POST", "path": f"/{behaviour}", "body": {"n": "{{seq}}"}}
    data = {
        "name": "hostile",
        "seed": 3,
        "target": {
            "base_url": base_url,
            "protocol": protocol,
            "timeouts": {"connect": "0.5s", "first_byte": FIRST_BYTE_S, "total": TOTAL_S},
            "max_response_bytes": CAP_BYTES,
            **target,
        },
        "load": {"arrival": "constant", "rate": RATE_PER_S, "requests": REQUESTS},
        "request": request,
    }
    return parse_scenario(yaml.safe_dump(data), source="hostile.yaml")


def run_and_check(
    scenario: Scenario, out: Path, expected: ErrorKind | None
) -> tuple[float, list[Any]]:
    started = time.monotonic()
    result = api.run(scenario, out_dir=out)
    elapsed_s = time.monotonic() - started
    assert elapsed_s < BOUND_S, f"run took {elapsed_s:.1f}s, bound {BOUND_S:.1f}s"
    assert result.status == "complete", result.status
    records = list(RunDir.open(out).iter_records())
    assert sorted(r.seq for r in records) == list(range(REQUESTS))  # each request exactly once
    kinds = Counter(r.error_kind for r in records)
    assert kinds == Counter({expected: REQUESTS}), [r.error_message for r in records]
    outcome = Outcome.OK if expected is None else Outcome.ERROR
    assert all(r.outcome is outcome for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["requests"] == REQUESTS
    if expected is not None:
        assert summary["errors_by_kind"] == {expected.value: REQUESTS}
        assert all(r.error_message for r in records)
    return elapsed_s, records


@pytest.mark.parametrize("behaviour", list(CASES))
@pytest.mark.parametrize(
    ("protocol", "stream", "transport"),
    [
        ("openai-chat", True, "fast"),
        ("openai-chat", False, "fast"),
        ("http", False, "fast"),
        ("openai-chat", True, "aiohttp"),
        ("http", False, "aiohttp"),
    ],
)
def test_hostile_behaviour_is_classified_and_accounted_once(
    server: HostileServer,
    tmp_path: Path,
    behaviour: str,
    protocol: str,
    stream: bool,
    transport: str,
) -> None:
    expected = CASES[behaviour][0 if protocol == "openai-chat" else 1]
    seen_before = server.state.requests[behaviour]
    run_and_check(
        hostile_scenario(server.url, protocol, behaviour, stream=stream, transport=transport),
        tmp_path / "run",
        expected,
    )
    # The server saw each request once: failures are not silently retried.
    seen = server.state.requests[behaviour] - seen_before
    assert seen == REQUESTS, f"the server saw {seen} requests for {REQUESTS} records"


TRANSPORTS = pytest.mark.parametrize("transport", ["fast", "aiohttp"])
PROTOCOLS = pytest.mark.parametrize("protocol", ["openai-chat", "http"])


@TRANSPORTS
@PROTOCOLS
def test_refused_connections_are_connect_refused(
    tmp_path: Path, protocol: str, transport: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    scenario = hostile_scenario(url, protocol, "ok", transport=transport)
    run_and_check(scenario, tmp_path / "run", ErrorKind.CONNECT_REFUSED)


@TRANSPORTS
@PROTOCOLS
def test_bytes_trickling_past_the_total_timeout_are_a_total_timeout(
    server: HostileServer, tmp_path: Path, protocol: str, transport: str
) -> None:
    scenario = hostile_scenario(
        server.url,
        protocol,
        "slow_bytes",
        transport=transport,
        # aiohttp marks the first byte when the headers are complete, which a trickle makes
        # late: a first-byte timeout above the total keeps the total the finding for both.
        timeouts={"first_byte": "1s", "total": "0.15s"},
    )
    started = time.monotonic()
    api.run(scenario, out_dir=tmp_path / "run")
    assert time.monotonic() - started < REQUESTS / RATE_PER_S + 0.15 + 1.15 + 3.0
    records = list(RunDir.open(tmp_path / "run").iter_records())
    assert sorted(r.seq for r in records) == list(range(REQUESTS))
    assert {r.error_kind for r in records} == {ErrorKind.TOTAL_TIMEOUT}
    # The timeout did not fire early, and a slow peer cannot hold a request much past it.
    assert all(r.service_ms is not None and 140 < r.service_ms < 1000 for r in records)


@TRANSPORTS
def test_server_side_connections_are_all_closed_after_a_run(
    server: HostileServer, tmp_path: Path, transport: str
) -> None:
    for behaviour in ("hang", "stall_after_headers", "endless_body", "reset_mid_stream"):
        scenario = hostile_scenario(server.url, "openai-chat", behaviour, transport=transport)
        api.run(scenario, out_dir=tmp_path / behaviour)
    deadline = time.monotonic() + 5
    while server.state.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.state.open_connections == 0
