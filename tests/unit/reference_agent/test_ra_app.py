"""The HTTP layer over a scripted ``TurnRunner``: status mapping, encodings, profiles.

In-process (httpx's ASGI transport), so each test controls exactly which events a turn
produces and runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
import pytest

from agentload.reference_agent.app import create_app
from agentload.reference_agent.settings import load_settings
from agentload.reference_agent.turn import (
    PHASES,
    Done,
    Failed,
    StepStarted,
    Token,
    ToolCall,
    TurnEvent,
    TurnRequest,
)

T = TypeVar("T")
PHASES_MS = {name: float(i) for i, name in enumerate(PHASES, start=1)}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
OOM = Failed("model_oom", "KV cache full", 503, {"queue": 1.0, "total": 2.0})


class ScriptedRunner:
    """Plays the same events for every turn; records requests and peak concurrency."""

    def __init__(self, script: Sequence[TurnEvent], delay_s: float = 0.0) -> None:
        self.script = script
        self.delay_s = delay_s
        self.requests: list[TurnRequest] = []
        self.active = 0
        self.peak = 0
        self.closed = 0

    async def run(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        self.requests.append(request)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            for event in self.script:
                await asyncio.sleep(self.delay_s)
                yield event
        finally:
            self.active -= 1
            self.closed += 1


def answer(*words: str, **done: Any) -> list[TurnEvent]:
    fields: dict[str, Any] = {
        "finish_reason": "stop", "prompt_tokens": 4, "completion_tokens": len(words),
        "phases_ms": PHASES_MS, **done,
    }  # fmt: skip
    return [StepStarted("inference"), *(Token(w) for w in words), Done(**fields)]


def run(
    runner: ScriptedRunner,
    scenario: Callable[[httpx.AsyncClient], Awaitable[T]],
    **settings: Any,
) -> T:
    app = create_app(load_settings(**settings), runner=runner)

    async def main() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
            return await asyncio.wait_for(scenario(http), timeout=10)

    return asyncio.run(main())


def sse_payloads(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


def test_chat_answer_carries_the_turns_phases() -> None:
    runner = ScriptedRunner(answer(" a", " b"))
    resp = run(runner, lambda http: http.post("/v1/chat/completions", json=CHAT))
    body = resp.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": " a b"}
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    timing = resp.headers["Server-Timing"]
    assert (
        timing.startswith("store_read;dur=1.000, queue;dur=2.000") and "total;dur=7.000" in timing
    )
    turn = runner.requests[0]
    assert turn.session_id is None and not turn.execute_tools and turn.max_tokens == 3


@pytest.mark.parametrize("stream", [False, True])
def test_oom_before_any_token_is_a_503(stream: bool) -> None:
    runner = ScriptedRunner([StepStarted("inference"), OOM])
    resp = run(
        runner, lambda http: http.post("/v1/chat/completions", json={**CHAT, "stream": stream})
    )
    assert resp.status_code == 503
    assert resp.json()["error"]["type"] == "model_oom"
    assert resp.headers["Server-Timing"] == "queue;dur=1.000, total;dur=2.000"
    assert runner.closed == 1


def test_session_oom_is_a_503_too() -> None:
    runner = ScriptedRunner([StepStarted("store_read"), OOM])

    async def scenario(http: httpx.AsyncClient) -> httpx.Response:
        session = (await http.post("/v1/sessions")).json()["id"]
        return await http.post(f"/v1/sessions/{session}/messages", json={"content": "hi"})

    resp = run(runner, scenario)
    assert resp.status_code == 503 and resp.json()["error"]["type"] == "model_oom"


def test_failure_mid_stream_ends_with_an_error_event() -> None:
    runner = ScriptedRunner([Token(" a"), Failed("engine_error", "engine stopped", 503)])
    resp = run(
        runner, lambda http: http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    )
    assert resp.status_code == 200
    assert resp.text.endswith('event: error\ndata: {"error":{"message":"engine stopped",'
                              '"type":"engine_error","code":null}}\n\n')  # fmt: skip
    assert "[DONE]" not in resp.text


def test_tool_calls_from_done_alone_are_returned() -> None:
    call = ToolCall("call_1", "search", {"query": "x"})
    runner = ScriptedRunner(answer(finish_reason="tool_calls", tool_calls=(call,)))
    tools = [{"type": "function", "function": {"name": "search"}}]

    async def both(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        plain = await http.post("/v1/chat/completions", json={**CHAT, "tools": tools})
        streamed = await http.post(
            "/v1/chat/completions", json={**CHAT, "tools": tools, "stream": True}
        )
        return plain, streamed

    plain, streamed = run(runner, both)
    message = plain.json()["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "search", "arguments": '{"query": "x"}'}}
    ]  # fmt: skip
    chunks = [json.loads(p) for p in sse_payloads(streamed.text) if p != "[DONE]"]
    deltas = [c["choices"][0] for c in chunks if c["choices"]]
    assert deltas[-2]["delta"]["tool_calls"][0]["index"] == 0
    assert deltas[-1]["finish_reason"] == "tool_calls"
    assert runner.requests[0].tools == ("search",)


def test_every_response_has_server_timing() -> None:
    runner = ScriptedRunner(answer(" a"))

    async def many(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get(path) for path in ("/healthz", "/metrics", "/nope", "/openapi.json")]

    for resp in run(runner, many):
        assert resp.headers["Server-Timing"].startswith("total;dur="), resp.request.url


@pytest.mark.parametrize("profile, expected_peak", [("baseline", 1), ("optimized", 6)])
def test_baseline_handles_one_request_at_a_time(profile: str, expected_peak: int) -> None:
    runner = ScriptedRunner(answer(" a", " b"), delay_s=0.01)

    async def burst(http: httpx.AsyncClient) -> list[int]:
        calls = [http.post("/v1/chat/completions", json=CHAT) for _ in range(3)]
        session = (await http.post("/v1/sessions")).json()["id"]
        calls += [http.post(f"/v1/sessions/{session}/messages", json={"content": "x"})
                  for _ in range(3)]  # fmt: skip
        return [r.status_code for r in await asyncio.gather(*calls)]

    assert run(runner, burst, profile=profile) == [200] * 6
    assert runner.peak == expected_peak


def test_unknown_route_and_method_are_openai_errors() -> None:
    runner = ScriptedRunner(answer(" a"))

    async def calls(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get("/v1/nothing"), await http.get("/v1/chat/completions")]

    missing, wrong_method = run(runner, calls)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
