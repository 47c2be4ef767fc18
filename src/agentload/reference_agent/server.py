"""Run the reference agent under uvicorn and announce where it listens.

Callers (``agentload agent serve``, ``agentload demo``, tests) start this in a process and
learn the address from one stdout line, ``agentload agent listening on http://HOST:PORT``,
or from ``ready_file``, which receives the URL once the server accepts connections.
SIGINT/SIGTERM shut down gracefully (uvicorn's handlers); afterwards uvicorn re-raises the
signal, so the process ends the way that signal normally ends it.
"""

from __future__ import annotations

import os
import socket
import sys

import uvicorn

from agentload.reference_agent.app import create_app
from agentload.reference_agent.engine import EngineConfig, SimulatedEngine

LISTENING_PREFIX = "agentload agent listening on "
# Streams still open at shutdown get this long to finish before they are cut.
_GRACEFUL_SHUTDOWN_S = 5


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str = "0.9b",
    max_batch: int = 64,
    speed: float = 1.0,
    seed: int = 0,
    log_level: str = "warning",
    ready_file: str | None = None,
) -> None:
    """Serve until interrupted; ``port=0`` binds a free port (see the announced URL)."""
    engine_config = EngineConfig(model=model, max_batch=max_batch, speed=speed, seed=seed)
    app = create_app(SimulatedEngine(engine_config))
    # Binding here, not in uvicorn, gives exactly one socket even when a host name resolves
    # to several addresses, so the announced port is the only one.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )
    server = _AnnouncingServer(config, url=listening_url(host, sock.getsockname()[1]))
    server.ready_file = ready_file
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def listening_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, url: str) -> None:
        super().__init__(config)
        self.url = url
        self.ready_file: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if self.ready_file is not None:
            _write_atomically(self.ready_file, self.url + "\n")
        sys.stdout.write(LISTENING_PREFIX + self.url + "\n")
        sys.stdout.flush()


def _write_atomically(path: str, text: str) -> None:
    """A reader polling for the file never sees it half written."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
