"""Session contexts in Redis (redis-py asyncio): one JSON value per session.

A whole context is one key (``<prefix><session id>``), written with one ``SET``: a turn
reads once and writes once, which is what the store phases time. Redis's own eviction
(``maxmemory-policy``) or a deleted key shows up as ``load`` returning None, exactly like
the memory store's LRU. A value that no longer decodes is treated the same way (logged),
so one corrupt key costs one session its history rather than failing every later turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from agentload.reference_agent.store import (
    SessionContext,
    StoreError,
    capped,
    inject_latency,
    new_session_id,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PREFIX = "agentload:session:"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SessionContext)
_EMPTY = _encoder.encode(SessionContext())


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_history_messages: int = 200,
        latency_ms: float = 0.0,
        timeout_s: float = 5.0,
    ) -> None:
        if max_history_messages < 1:
            raise ValueError("max_history_messages must be at least 1")
        self.url = url
        self.prefix = prefix
        self.max_history_messages = max_history_messages
        self.latency_ms = latency_ms
        # A dead Redis must fail a turn in bounded time, not hang it.
        self._client: redis.Redis = redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def create(self) -> str:
        await inject_latency(self.latency_ms)
        for _ in range(3):  # 96 random bits: a collision is a bug somewhere else
            session_id = new_session_id()
            if await self._call(self._client.set(self.key(session_id), _EMPTY, nx=True)):
                return session_id
        raise StoreError("could not allocate a new session id")

    async def load(self, session_id: str) -> SessionContext | None:
        await inject_latency(self.latency_ms)
        raw = await self._call(self._client.get(self.key(session_id)))
        if raw is None:
            return None
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            logger.warning("session %s: undecodable context dropped: %s", session_id, exc)
            return None

    async def save(self, session_id: str, context: SessionContext) -> None:
        await inject_latency(self.latency_ms)
        body = _encoder.encode(capped(context, self.max_history_messages))
        await self._call(self._client.set(self.key(session_id), body))

    async def delete(self, session_id: str) -> None:
        await inject_latency(self.latency_ms)
        await self._call(self._client.delete(self.key(session_id)))

    async def ping(self) -> None:
        """Raise ``StoreError`` unless Redis answers (for start-up and health checks)."""
        await self._call(self._client.ping())

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    async def _call(pending: Awaitable[T]) -> T:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis: {exc}") from exc
