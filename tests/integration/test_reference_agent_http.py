"""The reference agent as a user runs it: ``serve()`` in its own process, real HTTP on loopback.

Checks the OpenAI wire format (also through the load side's own parsers), Server-Timing,
errors, the readiness line and file, and a graceful stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import uvicorn

from agentload.protocol.openai_chat import parse_completion, parse_stream_chunk
from agentload.protocol.server_timing import parse_server_timing
from agentload.reference_agent.app import create_app
from agentload.reference_agent.settings import load_settings

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
PREFIX = "agentload agent listening on "
PHASES = ["store_read", "queue", "prefill", "decode", "tool", "store_write", "total"]
MODEL_PHASES = ["queue", "prefill", "decode"]


def start_agent(ready_file: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    args = "port=0" + (f", ready_file={str(ready_file)!r}" if ready_file else "")
    code = (
        "from agentload.reference_agent.server import serve\n"
        "from agentload.reference_agent.settings import load_settings\n"
        f"serve(load_settings(**{{'engine.speed': 20}}), {args})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if readable else ""
    if not line.startswith(PREFIX):
        stop(proc)
        pytest.fail(f"no listening line; got {line!r}")
    return proc, line[len(PREFIX) :].strip()


def stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ready_file = tmp_path_factory.mktemp("agent") / "ready"
    proc, url = start_agent(ready_file)
    try:
        yield url, ready_file
    finally:
        stop(proc)


def run(factory: Callable[[aiohttp.ClientSession], Awaitable[T]]) -> T:
    async def main() -> T:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await factory(session)

    return asyncio.run(main())


def chat_body(max_tokens: int, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Plan a trip to the coast, briefly."}]
    return {"model": "any", "messages": messages, "max_tokens": max_tokens, **extra}


def test_listening_line_and_ready_file_agree(agent: tuple[str, Path]) -> None:
    url, ready_file = agent
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert ready_file.read_text().strip() == url


def test_health_and_models(agent: tuple[str, Path]) -> None:
    url, _ = agent

    async def fetch(session: aiohttp.ClientSession) -> tuple[int, Any, Any]:
        async with session.get(f"{url}/healthz") as health:
            health_body = await health.json()
        async with session.get(f"{url}/v1/models") as models:
            return health.status, health_body, await models.json()

    status, health, models = run(fetch)
    assert status == 200 and health == {"status": "ok"}
    assert [m["id"] for m in models["data"]] == ["agentload-sim-0.9b"]


def test_non_stream_completion_has_usage_and_server_timing(agent: tuple[str, Path]) -> None:
    url, _ = agent

    async def call(session: aiohttp.ClientSession) -> tuple[int, str, bytes]:
        async with session.post(f"{url}/v1/chat/completions", json=chat_body(9)) as resp:
            return resp.status, resp.headers["Server-Timing"], await resp.read()

    status, timing, raw = run(call)
    assert status == 200
    body = json.loads(raw)
    assert body["object"] == "chat.completion" and body["model"] == "agentload-sim-0.9b"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "length"
    assert len(choice["message"]["content"].split()) == 9
    usage = body["usage"]
    assert usage["completion_tokens"] == 9 and usage["prompt_tokens"] == 9  # 34 chars / 4
    assert usage["total_tokens"] == 18
    info = parse_completion(raw)  # what the load side reads
    assert info.usage is not None and info.usage.completion_tokens == 9
    phases = parse_server_timing(timing)
    assert list(phases) == PHASES
    assert phases["store_read"] == phases["store_write"] == phases["tool"] == 0  # stateless
    # total is the whole turn: the model's phases plus the agent's own work around them.
    assert phases["total"] >= sum(phases[p] for p in MODEL_PHASES) - 0.01


async def stream(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[int, str, str, str]:
    async with session.post(f"{url}/v1/chat/completions", json=body) as resp:
        text = (await resp.read()).decode()
        return resp.status, resp.content_type, resp.headers["Server-Timing"], text


@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_chunks_in_order(agent: tuple[str, Path], include_usage: bool) -> None:
    url, _ = agent
    body = chat_body(12, stream=True, stream_options={"include_usage": include_usage})
    status, content_type, timing, text = run(lambda s: stream(s, url, body))
    assert status == 200 and content_type == "text/event-stream"
    # Headers leave with the first token: the phases come at the end (a stateless turn
    # has no store_read to report early).
    assert "phases" in timing and parse_server_timing(timing) == {}
    blocks = text.split("\n\n")
    assert blocks.pop() == "" and blocks.pop() == "data: [DONE]"
    comment = blocks.pop()
    assert comment.startswith(": server-timing ")
    assert list(parse_server_timing(comment.removeprefix(": server-timing "))) == PHASES
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    if include_usage:
        usage_chunk = chunks.pop()
        assert usage_chunk["choices"] == []
        assert usage_chunk["usage"]["completion_tokens"] == 12
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(contents) == 12 and all(c.startswith(" ") for c in contents)
    infos = [parse_stream_chunk(b.removeprefix("data: ")) for b in blocks]  # load-side parser
    assert sum(1 for i in infos if i.content) == 12


def test_concurrent_streams_all_complete(agent: tuple[str, Path]) -> None:
    url, _ = agent
    body = chat_body(20, stream=True)

    async def many(session: aiohttp.ClientSession) -> list[tuple[int, str, str, str]]:
        return await asyncio.gather(*(stream(session, url, body) for _ in range(16)))

    results = run(many)
    assert all(
        status == 200 and text.endswith("data: [DONE]\n\n") for status, _, _, text in results
    )


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"model": "m"}', b'{"model": "m", "messages": []}',
     b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}'],
)  # fmt: skip
def test_bad_requests_get_400_with_an_openai_error(agent: tuple[str, Path], payload: bytes) -> None:
    url, _ = agent

    async def call(session: aiohttp.ClientSession) -> tuple[int, Any, str]:
        headers = {"Content-Type": "application/json"}
        async with session.post(f"{url}/v1/chat/completions", data=payload, headers=headers) as r:
            return r.status, await r.json(), r.headers["Server-Timing"]

    status, body, timing = run(call)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
    assert "total" in parse_server_timing(timing)


def test_sigterm_stops_the_server_gracefully() -> None:
    proc, _url = start_agent()
    try:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert proc.returncode in (0, -signal.SIGTERM)
    finally:
        stop(proc)


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_hangs_up_frees_its_batch_slot(stream: bool) -> None:
    # In-process, so the engine's gauges can be read while the server runs.
    async def hang_up(session: aiohttp.ClientSession, url: str) -> None:
        if stream:
            resp = await session.post(url, json=chat_body(4000, stream=True))
            await resp.content.readline()
            resp.close()
            return
        with contextlib.suppress(TimeoutError):
            timeout = aiohttp.ClientTimeout(total=0.3)
            await session.post(url, json=chat_body(4000), timeout=timeout)

    async def scenario() -> tuple[int, int]:
        app = create_app(load_settings(**{"engine.speed": 20}))
        engine = app.state.services.engine
        config = uvicorn.Config(app, port=0, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            for _ in range(500):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            async with aiohttp.ClientSession() as session:
                await hang_up(session, f"http://127.0.0.1:{port}/v1/chat/completions")
                busy = engine.gauges().running + engine.gauges().queue_depth
            for _ in range(100):
                if engine.gauges().running == 0:
                    break
                await asyncio.sleep(0.01)
            return busy, engine.gauges().running
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=10)

    assert asyncio.run(scenario()) == (1, 0)  # 4000 tokens at speed 20 would take 2.5 s
