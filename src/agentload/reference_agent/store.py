"""Where a session's context lives between turns: an in-memory LRU, or Redis.

A ``SessionContext`` is the conversation so far (messages) plus the facts the planner has
learnt from it. ``load`` answers ``None`` when the store holds nothing for an id — never
created, deleted, or evicted — and the agent then reports ``context_lost`` on the turn, so
eviction is visible to a load-testing client instead of silently producing worse answers.

Both stores keep only the last ``max_history_messages`` messages (facts are kept whole, the
way an agent's long-term memory outlives its prompt window) and sleep
``faults.store_latency_ms`` before every read and write, to rehearse a slow store.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from importlib.util import find_spec
from typing import Protocol

import msgspec

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.settings import AgentSettings, SettingsError


class SessionContext(msgspec.Struct, frozen=True, kw_only=True):
    """One session's state; replaced, never mutated, so a stored copy cannot change."""

    messages: tuple[ChatMessage, ...] = ()
    facts: dict[str, str] = msgspec.field(default_factory=dict)


class StoreError(Exception):
    """The store could not be reached or refused the operation (a turn fails with 503)."""


class ContextStore(Protocol):
    async def create(self) -> str:
        """A new session with an empty context; returns its id."""
        ...

    async def load(self, session_id: str) -> SessionContext | None:
        """The session's context, or None if the store holds none (unknown or evicted)."""
        ...

    async def save(self, session_id: str, context: SessionContext) -> None: ...

    async def delete(self, session_id: str) -> None:
        """Forget the session; a no-op for an unknown id."""
        ...

    async def aclose(self) -> None: ...


def new_session_id() -> str:
    return "sess_" + secrets.token_hex(12)


def capped(context: SessionContext, max_messages: int) -> SessionContext:
    """The context with only its last ``max_messages`` messages."""
    if len(context.messages) <= max_messages:
        return context
    return SessionContext(messages=context.messages[-max_messages:], facts=context.facts)


async def inject_latency(latency_ms: float) -> None:
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)


class MemoryStore:
    """Contexts in this process, least recently used evicted beyond ``capacity_sessions``.

    Reads and writes both count as use. ``evictions`` counts sessions pushed out, for
    ``/metrics``. Nothing awaits between a lookup and its update, so concurrent turns
    never see a half-applied change.
    """

    def __init__(
        self, capacity_sessions: int, *, max_history_messages: int = 200, latency_ms: float = 0.0
    ) -> None:
        if capacity_sessions < 1 or max_history_messages < 1:
            raise ValueError("capacity_sessions and max_history_messages must be at least 1")
        self.capacity_sessions = capacity_sessions
        self.max_history_messages = max_history_messages
        self.latency_ms = latency_ms
        self.evictions = 0
        self._contexts: OrderedDict[str, SessionContext] = OrderedDict()

    @property
    def sessions(self) -> int:
        """Sessions held now (a gauge for ``/metrics``)."""
        return len(self._contexts)

    async def create(self) -> str:
        await inject_latency(self.latency_ms)
        session_id = new_session_id()
        self._put(session_id, SessionContext())
        return session_id

    async def load(self, session_id: str) -> SessionContext | None:
        await inject_latency(self.latency_ms)
        context = self._contexts.get(session_id)
        if context is not None:
            self._contexts.move_to_end(session_id)
        return context

    async def save(self, session_id: str, context: SessionContext) -> None:
        await inject_latency(self.latency_ms)
        # The facts dict is the only mutable part; copy it so the caller cannot reach in.
        context = capped(context, self.max_history_messages)
        self._put(session_id, msgspec.structs.replace(context, facts=dict(context.facts)))

    async def delete(self, session_id: str) -> None:
        await inject_latency(self.latency_ms)
        self._contexts.pop(session_id, None)

    async def aclose(self) -> None:
        self._contexts.clear()

    def _put(self, session_id: str, context: SessionContext) -> None:
        self._contexts[session_id] = context
        self._contexts.move_to_end(session_id)
        while len(self._contexts) > self.capacity_sessions:
            self._contexts.popitem(last=False)
            self.evictions += 1


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
REDIS_EXTRA_HINT = "pip install 'agentload[redis]'"


def require_store_packages(url: str) -> None:
    """A Redis store needs redis-py, an optional extra: say so before anything starts."""
    if url.startswith(_REDIS_SCHEMES) and find_spec("redis") is None:
        raise SettingsError(
            "store.url: a Redis store needs the redis package, which is not installed: "
            f"{REDIS_EXTRA_HINT} (or use store.url: memory://)"
        )


def open_store(settings: AgentSettings) -> ContextStore:
    """The store ``settings.store.url`` names: ``memory://`` or ``redis://host:port/db``.

    Nothing connects here; a Redis store connects on its first operation.
    """
    url = settings.store.url
    latency_ms = settings.faults.store_latency_ms
    if url == "memory://" or url == "memory":
        return MemoryStore(
            settings.store.capacity_sessions,
            max_history_messages=settings.store.max_history_messages,
            latency_ms=latency_ms,
        )
    if url.startswith(_REDIS_SCHEMES):
        require_store_packages(url)
        from agentload.reference_agent.store_redis import RedisStore  # redis loads on demand

        return RedisStore(
            url, max_history_messages=settings.store.max_history_messages, latency_ms=latency_ms
        )
    raise SettingsError(
        f"store.url: unsupported store {url!r}; use memory:// or redis://host:port/db"
    )
