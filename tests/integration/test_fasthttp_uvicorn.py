"""The fast HTTP/1.1 transport against a real server, uvicorn (httptools and h11 protocols): a
large Content-Length body, a chunked stream, ``Connection: close`` and keep-alive reuse, as
uvicorn frames them rather than as a scripted server does."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from agentload.clients.fasthttp import FastTransport
from agentload.clock import MonotonicClock
from agentload.records.record import Outcome, Timing
from agentload.sessions.work import Work
from tests.conftest import free_port
from tests.integration.test_fasthttp_wire import BodyReader, target

BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB
CHUNKS = [f"data: {i} {'x' * (i % 50)}\n\n".encode() for i in range(200)]


class App:
    """A plain ASGI app; remembers the client address (one per connection) of each request."""

    def __init__(self) -> None:
        self.peers: list[tuple[str, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.peers.append(tuple(scope["client"]))  # type: ignore[arg-type]
        path = scope["path"]
        if path == "/big":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(len(BIG)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": BIG})
        elif path == "/chunked":  # no length: uvicorn sends it chunked
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
            for chunk in CHUNKS:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b""})
        else:
            headers = [(b"content-length", b"2")]
            if path == "/close":
                headers.append((b"connection", b"close"))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def uvicorn_server(http: str) -> Iterator[tuple[int, App]]:
    app = App()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="warning",
                            lifespan="off", loop="asyncio")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, paths: list[str], reader: BodyReader) -> list[Outcome]:
    async def main() -> list[Outcome]:
        transport = FastTransport(target(port), max_connections=4)
        clock = MonotonicClock()
        try:
            outcomes = []
            for seq, path in enumerate(paths):
                work = Work(seq=seq, intended_at=0, action="t", method="GET", path=path, body=None)
                result = await transport.exchange(work, Timing(), clock, reader)
                assert result.error_message is None, result
                outcomes.append(result.outcome)
            return outcomes
        finally:
            await transport.aclose()

    return asyncio.run(main())


@pytest.fixture(params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, App]]:
    with uvicorn_server(request.param) as running:
        yield running


def test_a_large_body_arrives_whole(server: tuple[int, App]) -> None:
    port, _ = server
    reader = BodyReader()
    assert exchange(port, ["/big", "/big"], reader) == [Outcome.OK, Outcome.OK]
    digest = hashlib.sha256(BIG).hexdigest()
    assert [hashlib.sha256(body).hexdigest() for body in reader.bodies] == [digest, digest]


def test_a_chunked_stream_arrives_in_order_and_whole(server: tuple[int, App]) -> None:
    port, _ = server
    reader = BodyReader()
    assert exchange(port, ["/chunked", "/small"], reader) == [Outcome.OK, Outcome.OK]
    assert reader.bodies == [b"".join(CHUNKS), b"ok"]


def test_keep_alive_reuses_one_connection_and_close_opens_a_new_one(
    server: tuple[int, App],
) -> None:
    port, app = server
    reader = BodyReader()
    paths = ["/a"] * 20 + ["/close"] + ["/b"] * 5
    assert exchange(port, paths, reader) == [Outcome.OK] * len(paths)
    assert reader.bodies == [b"ok"] * len(paths)
    # Sequential requests: the first 21 on one connection (the 21st asked to close it),
    # the last 5 on a second one.
    assert len(set(app.peers[:21])) == 1
    assert len(set(app.peers[21:])) == 1 and app.peers[21] != app.peers[0]
