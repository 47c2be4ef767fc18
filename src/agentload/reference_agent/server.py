"""Run the reference agent under uvicorn and announce where it listens.

Callers (``agentload agent serve``, ``agentload demo``, tests) start this in a process and
learn the address from one stdout line, ``agentload agent listening on http://HOST:PORT``,
or from ``ready_file``, which receives the URL once the server accepts connections.
SIGINT/SIGTERM shut down gracefully (uvicorn's handlers): new connections are refused,
answers in flight get a few seconds to finish, then the engine stops and any stream still
open ends with an SSE ``error`` event rather than a cut connection. Afterwards uvicorn
re-raises the signal, so the process ends the way that signal normally ends it.

Each connection's transport is put in the ASGI scope (``faults.TRANSPORT_EXTENSION``), so
an injected connection reset can really reset the TCP connection mid-stream.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from agentload.reference_agent.app import create_app
from agentload.reference_agent.faults import TRANSPORT_EXTENSION
from agentload.reference_agent.inference import InferenceEngine
from agentload.reference_agent.services import Services
from agentload.reference_agent.settings import AgentSettings

LISTENING_PREFIX = "agentload agent listening on "
# Answers in flight at shutdown get this long to finish before the engine stops them.
_DRAIN_S = 5.0


def serve(
    settings: AgentSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    ready_file: str | None = None,
) -> None:
    """Serve until interrupted; ``port=0`` binds a free port (see the announced URL)."""
    app = create_app(settings)
    services = app.state.services
    assert isinstance(services, Services)
    # Binding here, not in uvicorn, gives exactly one socket even when a host name resolves
    # to several addresses, so the announced port is the only one.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",  # uvloop when installed
        http=_transport_aware_protocol(),  # httptools when installed
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=int(_DRAIN_S) + 2,  # a backstop; the drain ends first
    )
    url = listening_url(host, sock.getsockname()[1])
    server = _AgentServer(config, url=url, engine=services.engine, ready_file=ready_file)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def listening_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _transport_aware_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, with each connection's transport added to its scopes."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol  # httptools, or h11 without it; both keep ``self.app``

    class TransportAwareProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self.app: ASGIApp = _with_transport(self.app, transport)

    return TransportAwareProtocol


def _with_transport(app: ASGIApp, transport: asyncio.BaseTransport) -> ASGIApp:
    async def with_transport(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["extensions"] = {
                **(scope.get("extensions") or {}),
                TRANSPORT_EXTENSION: transport,
            }
        await app(scope, receive, send)

    return with_transport


class _AgentServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        url: str,
        engine: InferenceEngine,
        ready_file: str | None,
    ) -> None:
        super().__init__(config)
        self.url = url
        self.ready_file = ready_file
        self._engine = engine
        self._engine_stop: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        # What exists now (modules, app, engine, calibration tables) lives as long as the
        # server: out of the collector's view, a full collection walks only what requests
        # made. Unfrozen, one took 35-42 ms every ~0.7 s under load, a stall of every answer
        # in flight that a load test would wrongly blame on the model. Collected first, so no
        # start-up garbage is kept for good.
        gc.collect()
        gc.freeze()
        if self.ready_file is not None:
            _write_atomically(self.ready_file, self.url + "\n")
        sys.stdout.write(LISTENING_PREFIX + self.url + "\n")
        sys.stdout.flush()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(_DRAIN_S, self._stop_engine)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()

    def _stop_engine(self) -> None:
        self._engine_stop = asyncio.get_running_loop().create_task(self._engine.aclose())


def _write_atomically(path: str, text: str) -> None:
    """A reader polling for the file never sees it half written."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
