"""Injected HTTP faults and the two serving profiles, each on its own agent process."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import running_reference_agent

pytestmark = pytest.mark.timeout(90)
CHAT = "/v1/chat/completions"


def chat_body(max_tokens: int = 2, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Hello there."}]
    return {"model": "m", "messages": messages, "max_tokens": max_tokens, **extra}


@pytest.fixture
def agent_with(tmp_path: Path) -> Iterator[Any]:
    """Start an agent from a settings mapping (written as its --config file)."""
    stack: list[Any] = []

    def start(settings: dict[str, Any], *flags: str) -> str:
        config = tmp_path / f"agent-{len(stack)}.yaml"
        config.write_text(yaml.safe_dump(settings))
        cm = running_reference_agent(tmp_path, "--config", str(config), *flags)
        url: str = cm.__enter__()
        stack.append(cm)
        return url

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def test_429_and_5xx_rates_follow_the_settings(agent_with: Any) -> None:
    faults = {"http_429_rate": 0.3, "retry_after_s": 2, "http_5xx_rate": 0.2}
    url = agent_with({"faults": faults, "engine": {"speed": 100}})
    statuses: list[int] = []
    with httpx.Client(base_url=url, timeout=10) as http:
        for _ in range(300):
            resp = http.post(CHAT, json=chat_body())
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.headers["Retry-After"] == "2"
                assert resp.headers["retry-after-ms"] == "2000"
                assert resp.json()["error"]["type"] == "rate_limit_exceeded"
            elif resp.status_code == 500:
                assert resp.json()["error"]["type"] == "server_error"
            assert "Server-Timing" in resp.headers
        health = [http.get("/healthz").status_code for _ in range(30)]
        metrics = http.get("/metrics").text
    # 429 first with p=0.3, then 5xx with p=0.2 of the rest (0.14): binomial, n=300.
    assert 60 <= statuses.count(429) <= 120
    assert 22 <= statuses.count(500) <= 65
    assert statuses.count(200) == 300 - statuses.count(429) - statuses.count(500)
    assert set(health) == {200}  # only endpoints that do work are faulted
    assert f'agentload_agent_faults_injected_total{{kind="http_429"}} {statuses.count(429)}.0' in (
        metrics
    )


def test_429_without_retry_after(agent_with: Any) -> None:
    url = agent_with({"faults": {"http_429_rate": 1.0, "retry_after_s": None}})
    with httpx.Client(base_url=url, timeout=10) as http:
        for path, body in ((CHAT, chat_body()), ("/v1/tasks", {"content": "x"})):
            resp = http.post(path, json=body)
            assert resp.status_code == 429 and "Retry-After" not in resp.headers


def read_stream(url: str, path: str, body: dict[str, Any]) -> tuple[bytes, str | None]:
    """The bytes of a stream, and the name of the error that ended it (None: clean end)."""
    received = b""
    with httpx.Client(base_url=url, timeout=10) as http:
        try:
            with http.stream("POST", path, json=body) as resp:
                assert resp.status_code == 200
                for chunk in resp.iter_raw():
                    received += chunk
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            return received, type(exc).__name__
    return received, None


def test_reset_cuts_streams_mid_way(agent_with: Any) -> None:
    url = agent_with({"faults": {"reset_rate": 1.0}, "engine": {"speed": 20}})
    received, error = read_stream(url, CHAT, chat_body(50, stream=True))
    assert error is not None, "the stream ended cleanly"
    assert b'"content"' in received  # some tokens made it
    assert b"[DONE]" not in received and b'finish_reason":"length' not in received
    with httpx.Client(base_url=url, timeout=10) as http:
        session_id = http.post("/v1/sessions").json()["id"]
        body = {"content": "Tell me a story.", "max_tokens": 50, "stream": True}
        received, error = read_stream(url, f"/v1/sessions/{session_id}/messages", body)
        assert error is not None and b"event: token" in received and b"event: done" not in received
        # Non-streamed answers are whole, and the service is still up.
        assert http.post(CHAT, json=chat_body(3)).status_code == 200
        metrics = http.get("/metrics").text
    assert 'agentload_agent_faults_injected_total{kind="reset"} 2.0' in metrics


def test_stalls_freeze_every_endpoint(agent_with: Any) -> None:
    url = agent_with({"faults": {"stall_every_s": 0.8, "stall_ms": 400}})
    slow: dict[str, list[float]] = {"/healthz": [], "/metrics": [], "/v1/models": []}

    def poll(path: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert http.get(path).status_code == 200
                elapsed = time.monotonic() - started
                if elapsed > 0.2:
                    slow[path].append(started)
                time.sleep(0.01)

    threads = [threading.Thread(target=poll, args=(path,)) for path in slow]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # 2.5 s with a 400 ms freeze every 0.8 s: every endpoint waited through at least two.
    assert all(len(times) >= 2 for times in slow.values()), slow


@pytest.mark.parametrize("profile", ["baseline", "optimized"])
def test_baseline_serializes_concurrent_requests(agent_with: Any, profile: str) -> None:
    # 20 tokens at speed 2: one answer takes ≈ 130 ms; eight together batch in ≈ 140 ms.
    url = agent_with({"profile": profile, "engine": {"speed": 2}})

    async def one(http: httpx.AsyncClient) -> tuple[float, float]:
        started = time.monotonic()
        resp = await http.post(CHAT, json=chat_body(20))
        assert resp.status_code == 200
        return started, time.monotonic()

    async def burst() -> tuple[float, list[tuple[float, float]]]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            alone_start, alone_end = await one(http)
            spans = await asyncio.gather(*(one(http) for _ in range(8)))
            return alone_end - alone_start, spans

    single_s, spans = asyncio.run(burst())
    wall_s = max(end for _, end in spans) - min(start for start, _ in spans)
    ends = sorted(end for _, end in spans)
    if profile == "baseline":
        assert wall_s >= 6 * single_s, (wall_s, single_s)
        gaps = [b - a for a, b in itertools.pairwise(ends)]
        assert min(gaps) >= 0.5 * single_s, gaps  # one after another
    else:
        assert wall_s <= 3 * single_s, (wall_s, single_s)


def test_model_oom_is_a_503_with_its_type(agent_with: Any) -> None:
    url = agent_with({"engine": {"kv_budget_tokens": 64, "speed": 50}})
    long_prompt = {"model": "m", "messages": [{"role": "user", "content": "x" * 1000}]}
    with httpx.Client(base_url=url, timeout=10) as http:
        for stream in (False, True):
            resp = http.post(CHAT, json={**long_prompt, "max_tokens": 5, "stream": stream})
            assert resp.status_code == 503
            assert resp.json()["error"]["type"] == "model_oom"
            assert "total;dur=" in resp.headers["Server-Timing"]
        assert http.post(CHAT, json=chat_body(3)).status_code == 200  # small ones still fit
        metrics = http.get("/metrics").text
    assert 'agentload_agent_turns_total{outcome="model_oom"} 2.0' in metrics
