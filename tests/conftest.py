"""Shared fixtures: a loopback HTTP server running in its own thread and event loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from aiohttp import web


@contextmanager
def serve_app(app: web.Application) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 in a background thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        server = site._server
        assert server is not None
        holder["port"] = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert started.wait(10), "test server did not start"
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        runner = holder["runner"]
        assert isinstance(runner, web.AppRunner)

        async def shutdown() -> None:
            await runner.cleanup()
            # Handlers still sleeping (hanging-server tests) are cancelled, not abandoned.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(shutdown(), loop)
        with suppress(Exception):
            fut.result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def app_server() -> Iterator[Callable[[web.Application], str]]:
    stack: list[object] = []

    def start(app: web.Application) -> str:
        cm = serve_app(app)
        url = cm.__enter__()
        stack.append(cm)
        return url

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)  # type: ignore[attr-defined]


@contextmanager
def running_reference_agent(tmp_dir: Path, *args: str) -> Iterator[str]:
    """The real reference agent in a subprocess on a free loopback port; yields its URL."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    ready = tmp_dir / "agent-ready"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentload",
            "agent",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            assert proc.poll() is None, "the reference agent exited"
            assert time.monotonic() < deadline, "the reference agent did not start"
            time.sleep(0.05)
        yield ready.read_text().strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def fast_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reference agent running 10x faster than the calibrated GPU, shared by a module."""
    with running_reference_agent(tmp_path_factory.mktemp("agent"), "--speed", "10") as url:
        yield url
