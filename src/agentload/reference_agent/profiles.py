"""The two serving profiles: ``baseline`` (the "before") and ``optimized`` (the "after").

``optimized`` lets requests run concurrently, so the engine batches them. ``baseline``
handles one request at a time per worker: an ``asyncio.Lock`` is held for the whole request,
response body included, and by every background job while it runs. That makes the "before"
of an optimisation really synchronous, as a naive service written around a blocking model
call is, rather than merely configured with a batch of one.

Only requests that do work take the lock; ``/healthz``, ``/metrics``, ``/v1/models`` and
polling a task stay answerable, as they would behind a worker pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Receive, Scope, Send

# POST paths that run an agent turn (A2A's JSON-RPC endpoint included).
_WORK_PATHS = frozenset({"/v1/chat/completions", "/v1/tasks", "/a2a"})


def is_work_request(scope: Scope) -> bool:
    if scope.get("method") != "POST":
        return False
    path: str = scope.get("path", "")
    return path in _WORK_PATHS or (path.startswith("/v1/sessions/") and path.endswith("/messages"))


class Serializer:
    """Holds work to one at a time when ``serial``; otherwise a no-op."""

    def __init__(self, serial: bool) -> None:
        self.serial = serial
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if not self.serial:
            yield
            return
        async with self._lock:
            yield


SERIAL_WAIT_KEY = "agentload_serial_wait_ns"


def serial_wait_ns(scope: Scope) -> int:
    """How long this request waited for the baseline profile's lock (0 when it did not)."""
    state = scope.get("state")
    return int(state.get(SERIAL_WAIT_KEY, 0)) if isinstance(state, dict) else 0


class SerialMiddleware:
    """Wraps each work request in ``Serializer.hold`` (baseline profile).

    Submitting a task is quick and is not held; the job itself holds the lock while it runs.
    """

    def __init__(self, app: ASGIApp, serializer: Serializer) -> None:
        self.app = app
        self.serializer = serializer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.serializer.serial
            or scope["type"] != "http"
            or not is_work_request(scope)
            or scope.get("path") == "/v1/tasks"
        ):
            await self.app(scope, receive, send)
            return
        arrived_ns = time.monotonic_ns()
        async with self.serializer.hold():
            scope.setdefault("state", {})[SERIAL_WAIT_KEY] = time.monotonic_ns() - arrived_ns
            await self.app(scope, receive, send)
