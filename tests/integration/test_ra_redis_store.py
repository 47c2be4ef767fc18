"""The Redis context store against a real ``redis-server`` on loopback, and an agent on it.

The server is started here (no persistence, a free port) and stopped after the module;
``make test`` installs ``redis-server`` when it is missing.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import msgspec
import pytest
import redis

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.agent import AgentRunner
from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.planner import FORGOT
from agentload.reference_agent.settings import AgentSettings, ToolSettings
from agentload.reference_agent.store import SessionContext, StoreError, open_store
from agentload.reference_agent.store_redis import RedisStore
from agentload.reference_agent.tools import ToolBox
from agentload.reference_agent.turn import Done, Failed, Token, TurnEvent, TurnRequest
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; `make test` installs it (see `make services`)",
            pytrace=False,
        )
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stderr = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"redis-server did not start: {stderr}", pytrace=False)
                time.sleep(0.02)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=20)

    return asyncio.run(bounded())


def store_at(url: str, *, max_history_messages: int = 200, latency_ms: float = 0) -> RedisStore:
    # A prefix per test keeps the tests independent on the shared server.
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    return RedisStore(
        url, prefix=prefix, max_history_messages=max_history_messages, latency_ms=latency_ms
    )


def context(*texts: str, **facts: str) -> SessionContext:
    return SessionContext(messages=tuple(ChatMessage("user", t) for t in texts), facts=facts)


def test_save_load_and_delete(redis_url: str) -> None:
    async def scenario() -> None:
        store = store_at(redis_url)
        try:
            await store.ping()
            session = await store.create()
            assert await store.load(session) == SessionContext()
            assert await store.load("sess_unknown") is None
            await store.save(session, context("hi", name="Ada"))
            assert await store.load(session) == context("hi", name="Ada")
            await store.delete(session)
            assert await store.load(session) is None
        finally:
            await store.aclose()

    run(scenario)


def test_a_context_is_one_json_value_under_the_prefix(redis_url: str) -> None:
    async def scenario() -> tuple[str, bytes | None]:
        store = store_at(redis_url)
        try:
            session = await store.create()
            await store.save(session, context("hi", code="1234"))
            raw = redis.Redis.from_url(redis_url).get(store.key(session))
            assert raw is None or isinstance(raw, bytes)
            return store.prefix, raw
        finally:
            await store.aclose()

    prefix, raw = run(scenario)
    assert prefix.startswith("test:") and raw is not None
    assert msgspec.json.decode(raw) == {
        "messages": [{"role": "user", "content": "hi"}],
        "facts": {"code": "1234"},
    }


def test_history_is_capped_and_facts_kept(redis_url: str) -> None:
    async def scenario() -> SessionContext | None:
        store = store_at(redis_url, max_history_messages=2)
        try:
            session = await store.create()
            await store.save(session, context("1", "2", "3", "4", name="Ada"))
            return await store.load(session)
        finally:
            await store.aclose()

    assert run(scenario) == context("3", "4", name="Ada")


def test_a_corrupt_value_reads_as_lost_context(redis_url: str) -> None:
    async def scenario() -> SessionContext | None:
        store = store_at(redis_url)
        try:
            redis.Redis.from_url(redis_url).set(store.key("sess_bad"), b"{not json")
            return await store.load("sess_bad")
        finally:
            await store.aclose()

    assert run(scenario) is None


def test_injected_latency_is_added_to_reads_and_writes(redis_url: str) -> None:
    async def scenario() -> list[float]:
        store = store_at(redis_url, latency_ms=25)
        try:
            session = await store.create()
            start = time.perf_counter()
            await store.load(session)
            read_at = time.perf_counter()
            await store.save(session, context("x"))
            end = time.perf_counter()
            return [(read_at - start) * 1000, (end - read_at) * 1000]
        finally:
            await store.aclose()

    assert all(24 <= ms < 500 for ms in run(scenario))


def test_an_unreachable_redis_raises_store_error() -> None:
    async def scenario() -> None:
        store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
        try:
            with pytest.raises(StoreError, match="redis"):
                await store.load("sess_x")
        finally:
            await store.aclose()

    run(scenario)


def _settings(url: str) -> AgentSettings:
    tools = (ToolSettings(name="search", latency_ms_median=1, latency_sigma=0),)
    return AgentSettings.model_validate(
        {"store": {"url": url, "max_history_messages": 50}, "tools": tools}
    )


async def _turn(runner: AgentRunner, session: str, text: str) -> list[TurnEvent]:
    request = TurnRequest([ChatMessage("user", text)], session_id=session, tools=("search",))
    return [event async for event in runner.run(request)]


def test_agent_turns_keep_their_context_in_redis(redis_url: str) -> None:
    async def scenario() -> tuple[list[list[TurnEvent]], SessionContext | None]:
        settings = _settings(redis_url)
        store = open_store(settings)
        assert isinstance(store, RedisStore)
        try:
            async with SimulatedEngine(EngineConfig(speed=100, default_max_tokens=6)) as engine:
                runner = AgentRunner(settings, engine, store, ToolBox.from_settings(settings))
                session = await runner.create_session()
                turns = [
                    await _turn(runner, session, text)
                    for text in ("My name is Ada.", "search for tea", "What is my name?")
                ]
                saved = await store.load(session)
                # As Redis's maxmemory eviction would:
                redis.Redis.from_url(redis_url).delete(store.key(session))
                turns.append(await _turn(runner, session, "What is my name?"))
                await runner.end_session(session)
                return turns, saved
        finally:
            await store.aclose()

    (plant, search, recall, lost), saved = run(scenario)
    for events in (plant, search, recall):
        assert isinstance(events[-1], Done) and not events[-1].context_lost
        assert events[-1].phases_ms["store_read"] > 0 and events[-1].phases_ms["store_write"] > 0
    assert "".join(e.text for e in recall if isinstance(e, Token)).startswith("Your name is Ada.")
    assert saved is not None and saved.facts == {"name": "Ada"}
    assert [m.role for m in saved.messages] == [
        "user", "assistant", "user", "assistant", "tool", "assistant", "user", "assistant"
    ]  # fmt: skip
    assert isinstance(lost[-1], Done) and lost[-1].context_lost
    answer = "".join(e.text for e in lost if isinstance(e, Token))
    assert answer.startswith(f"{FORGOT}: this session's earlier context was lost.")


def test_a_turn_fails_with_store_error_when_redis_is_down() -> None:
    async def scenario() -> list[TurnEvent]:
        settings = _settings(f"redis://127.0.0.1:{free_port()}/0")
        store = open_store(settings)
        try:
            async with SimulatedEngine(EngineConfig(speed=100)) as engine:
                runner = AgentRunner(settings, engine, store, ToolBox.from_settings(settings))
                return await _turn(runner, "sess_x", "hello")
        finally:
            await store.aclose()

    events = run(scenario)
    assert isinstance(events[-1], Failed)
    assert (events[-1].kind, events[-1].status) == ("store_error", 503)
