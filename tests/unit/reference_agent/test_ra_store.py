"""Memory context store: LRU eviction is observable, history cap, latency, copies; open_store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import pytest

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.settings import AgentSettings, SettingsError, load_settings
from agentload.reference_agent.store import MemoryStore, SessionContext, open_store
from agentload.reference_agent.store_redis import RedisStore

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


def context(*texts: str, **facts: str) -> SessionContext:
    return SessionContext(messages=tuple(ChatMessage("user", t) for t in texts), facts=facts)


def test_a_new_session_has_an_empty_context_and_an_unknown_one_has_none() -> None:
    async def scenario() -> None:
        store = MemoryStore(4)
        session = await store.create()
        assert session.startswith("sess_")
        assert await store.load(session) == SessionContext()
        assert await store.load("sess_unknown") is None
        await store.save(session, context("hi", name="Ada"))
        assert await store.load(session) == context("hi", name="Ada")
        await store.delete(session)
        assert await store.load(session) is None
        await store.delete(session)  # deleting twice is fine

    run(scenario)


def test_the_least_recently_used_session_is_evicted_and_then_loads_as_none() -> None:
    async def scenario() -> None:
        store = MemoryStore(2)
        first, second = await store.create(), await store.create()
        await store.load(first)  # first is now the most recently used
        third = await store.create()
        assert await store.load(second) is None
        assert await store.load(first) == SessionContext()
        assert await store.load(third) == SessionContext()
        assert (store.sessions, store.evictions) == (2, 1)

    run(scenario)


def test_saving_keeps_only_the_last_messages_but_all_facts() -> None:
    async def scenario() -> None:
        store = MemoryStore(4, max_history_messages=3)
        session = await store.create()
        await store.save(session, context("1", "2", "3", "4", "5", code="42"))
        loaded = await store.load(session)
        assert loaded == context("3", "4", "5", code="42")

    run(scenario)


def test_a_saved_context_cannot_be_changed_through_the_caller_s_dict() -> None:
    async def scenario() -> None:
        store = MemoryStore(4)
        session = await store.create()
        saved = context("hi", name="Ada")
        await store.save(session, saved)
        saved.facts["name"] = "Eve"
        loaded = await store.load(session)
        assert loaded is not None and loaded.facts == {"name": "Ada"}

    run(scenario)


def test_injected_latency_is_added_to_every_read_and_write() -> None:
    async def scenario() -> list[float]:
        store = MemoryStore(4, latency_ms=20)
        elapsed = []
        session = "sess_x"
        for op in (store.create, lambda: store.load(session), lambda: store.delete(session)):
            start = time.perf_counter()
            await op()
            elapsed.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await store.save(session, SessionContext())
        elapsed.append((time.perf_counter() - start) * 1000)
        return elapsed

    assert all(19 <= ms < 500 for ms in run(scenario))


def test_open_store_picks_by_url() -> None:
    overrides: dict[str, Any] = {"store.capacity_sessions": 7, "faults.store_latency_ms": 3}
    store = open_store(load_settings(**overrides))
    assert isinstance(store, MemoryStore)
    assert (store.capacity_sessions, store.latency_ms) == (7, 3)
    redis_store = open_store(load_settings(**{"store.url": "redis://127.0.0.1:1/2"}))
    assert isinstance(redis_store, RedisStore)
    assert redis_store.max_history_messages == AgentSettings().store.max_history_messages
    run(redis_store.aclose)  # never connected: closing is still clean
    with pytest.raises(SettingsError, match=r"store\.url: unsupported store 'mysql://x'"):
        open_store(load_settings(**{"store.url": "mysql://x"}))


def test_contexts_round_trip_through_json() -> None:
    value = context("hello", "world", name="Ada")
    assert msgspec.json.decode(msgspec.json.encode(value), type=SessionContext) == value
