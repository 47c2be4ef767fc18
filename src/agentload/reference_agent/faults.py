"""HTTP-level fault injection, from ``settings.faults``; every draw from a seeded RNG.

* ``http_429_rate``: answer 429 with ``Retry-After`` (omitted when ``retry_after_s`` is None)
  before any work is done, as a rate limiter in front of a service would.
* ``http_5xx_rate``: answer 500 ``server_error`` before any work is done.
* ``reset_rate``: a stream is cut after a few tokens by aborting the TCP connection (a RST
  where the server exposes the transport, see ``server.py``), so the client sees a
  truncated stream, not a clean end.
* ``stall_every_s`` / ``stall_ms``: the whole process freezes periodically. The event loop is
  blocked with ``time.sleep`` — a real freeze, like a GC pause — so every endpoint, the
  engine and queued requests stop together. Requests sent during a stall are answered late,
  which is what a load generator with coordinated omission fails to report.

Model OOM (``oom_rate``, KV budget), slow or failing tools and store latency are injected
where they happen (engine, tools, store); this module only covers the HTTP layer. 429 and
5xx apply to the endpoints that do work (``profiles.is_work_request``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import struct
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from agentload.protocol.openai_chat import encode_error
from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.profiles import is_work_request
from agentload.reference_agent.settings import FaultSettings

logger = logging.getLogger(__name__)

# Where ``server.py`` puts the connection's transport in the ASGI scope.
TRANSPORT_EXTENSION = "agentload.transport"
# A reset stream is cut after 1..this many tokens.
_MAX_TOKENS_BEFORE_RESET = 8


class FaultInjector:
    def __init__(self, faults: FaultSettings, seed: int, metrics: AgentMetrics) -> None:
        self.settings = faults
        self._metrics = metrics
        # One generator per fault kind: enabling one fault never shifts another's draws.
        self._http_rng = random.Random(f"{seed}:http")
        self._reset_rng = random.Random(f"{seed}:reset")

    @property
    def active(self) -> bool:
        f = self.settings
        return f.http_429_rate > 0 or f.http_5xx_rate > 0

    def draw_http(self) -> tuple[int, bytes, dict[str, str]] | None:
        """A (status, body, headers) to answer instead of doing the work, or None."""
        f = self.settings
        if f.http_429_rate > 0 and self._http_rng.random() < f.http_429_rate:
            self._metrics.faults.labels("http_429").inc()
            headers: dict[str, str] = {}
            if f.retry_after_s is not None:
                # Retry-After is whole seconds (RFC 9110); OpenAI clients prefer the ms one.
                headers["Retry-After"] = str(math.ceil(f.retry_after_s))
                headers["retry-after-ms"] = str(round(f.retry_after_s * 1000))
            body = encode_error("rate limit reached (injected)", "rate_limit_exceeded")
            return 429, body, headers
        if f.http_5xx_rate > 0 and self._http_rng.random() < f.http_5xx_rate:
            self._metrics.faults.labels("http_5xx").inc()
            body = encode_error("internal error (injected)", "server_error", "injected_fault")
            return 500, body, {}
        return None

    def draw_reset(self) -> int | None:
        """For a new stream: cut it after this many tokens, or None to let it finish."""
        rate = self.settings.reset_rate
        if rate > 0 and self._reset_rng.random() < rate:
            return self._reset_rng.randint(1, _MAX_TOKENS_BEFORE_RESET)
        return None

    async def reset(self, scope: Scope) -> None:
        """Abort the request's connection; the stream must send nothing more."""
        self._metrics.faults.labels("reset").inc()
        transport: Any = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
        if transport is None:
            return  # the caller ends the response unfinished; the server closes it
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # Linger 0: close() sends a RST instead of a FIN, a true "connection reset".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        # Let the server see the hang-up before the app returns, so it does not log the
        # unfinished response as an application error.
        await asyncio.sleep(0.01)

    async def stall_loop(self) -> None:
        """Freeze the process for ``stall_ms`` every ``stall_every_s`` (start to start, so a
        stall longer than the period freezes the service almost always); until cancelled."""
        every_s, stall_s = self.settings.stall_every_s, self.settings.stall_ms / 1000
        if every_s is None or stall_s <= 0:
            return
        next_at = time.monotonic() + every_s
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self._metrics.faults.labels("stall").inc()
            time.sleep(stall_s)  # noqa: ASYNC251 - freezing the event loop is the point
            next_at += every_s


class FaultMiddleware:
    """Answers a work request with an injected 429 or 5xx before it reaches the app."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.injector.active and is_work_request(scope):
            started = time.perf_counter()
            fault = self.injector.draw_http()
            if fault is not None:
                status, body, headers = fault
                elapsed_ms = (time.perf_counter() - started) * 1000
                raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
                raw += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"server-timing", f"total;dur={elapsed_ms:.3f}".encode()),
                ]
                await send({"type": "http.response.start", "status": status, "headers": raw})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
