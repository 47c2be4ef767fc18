"""The fast HTTP/1.1 transport against a raw loopback server that sends exactly the bytes a
test scripts: framing, connection reuse and every way a response can go wrong."""

from __future__ import annotations

import asyncio
import random
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from agentload.clients.fasthttp import FastTransport
from agentload.clients.transport import Response
from agentload.clock import Clock, MonotonicClock
from agentload.config.models import Target
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


class RawServer:
    """Reads request heads (and Content-Length bodies) and lets ``handler`` write raw bytes."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                self.requests.append(head)
                await self.handler(reader, writer, head)
                if writer.is_closing():
                    return
        finally:
            writer.close()


@contextmanager
def raw_server(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> Iterator[RawServer]:
    server = RawServer(handler)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=ssl_context)

    srv = loop.run_until_complete(start())
    server.port = srv.sockets[0].getsockname()[1]
    thread = threading.Thread(target=lambda: (started.set(), loop.run_forever()), daemon=True)
    thread.start()
    started.wait()
    try:
        yield server
    finally:

        async def stop() -> None:
            srv.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


class BodyReader:
    """Keeps each body read whole, as bytes, next to its result."""

    def __init__(self, *, slow: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.slow = slow

    async def read(self, response: Response, work: Work, timing: Timing, clock: Clock) -> Any:
        parts = []
        async for data in response.content.iter_any():
            parts.append(data)
            if self.slow:
                await asyncio.sleep(0.001)  # a reader slower than the socket
        self.bodies.append(b"".join(parts))
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=response.status)


def target(port: int, **extra: Any) -> Target:
    timeouts = extra.pop("timeouts", {"connect": 1.0, "first_byte": 2.0, "total": 5.0})
    return Target(base_url=f"http://127.0.0.1:{port}", timeouts=timeouts, **extra)


def work(seq: int = 0, method: str = "GET", body: bytes | None = None) -> Work:
    return Work(seq=seq, intended_at=0, action="t", method=method, path="/x", body=body)


def exchange_all(
    t: Target, reader: BodyReader, count: int = 1, method: str = "GET"
) -> list[CallResult]:
    async def main() -> list[CallResult]:
        transport = FastTransport(t, max_connections=4)
        clock = MonotonicClock()
        try:
            return [
                await transport.exchange(work(i, method), Timing(), clock, reader)
                for i in range(count)
            ]
        finally:
            await transport.aclose()

    return asyncio.run(main())


def response(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


def chunked(body: bytes, rng: random.Random) -> bytes:
    out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    pos = 0
    while pos < len(body):
        size = min(rng.randint(1, 300), len(body) - pos)
        out.append(b"%x\r\n%s\r\n" % (size, body[pos : pos + size]))
        pos += size
    out.append(b"0\r\n\r\n")
    return b"".join(out)


async def write_in_pieces(writer: asyncio.StreamWriter, data: bytes, rng: random.Random) -> None:
    pos = 0
    while pos < len(data):
        size = rng.choice([1, 2, 3, 7, 64, 1000])
        writer.write(data[pos : pos + size])
        await writer.drain()
        pos += size
        if rng.random() < 0.05:
            await asyncio.sleep(0.001)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunked_body_split_at_arbitrary_boundaries_arrives_intact(seed: int) -> None:
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(20_000))

    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        await write_in_pieces(w, chunked(body, rng), rng)

    reader = BodyReader()
    with raw_server(handler) as server:
        results = exchange_all(target(server.port), reader, count=3)
    assert [r.outcome for r in results] == [Outcome.OK] * 3
    assert reader.bodies == [body] * 3
    assert server.connections == 1  # chunked framing left the connection reusable


def test_large_content_length_body_with_a_slow_reader_is_complete() -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: far past the buffer at which reading pauses

    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(response(body))
        await w.drain()

    reader = BodyReader(slow=True)
    with raw_server(handler) as server:
        results = exchange_all(target(server.port), reader, count=2)
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert reader.bodies == [body, body]
    assert server.connections == 1


def test_keep_alive_reuses_one_connection_and_connection_close_does_not() -> None:
    async def keep(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(response(b"ok"))

    async def close(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(response(b"ok", b"Connection: close"))
        await w.drain()
        w.close()

    with raw_server(keep) as server:
        results = exchange_all(target(server.port), BodyReader(), count=20)
        assert {r.outcome for r in results} == {Outcome.OK}
        assert (server.connections, len(server.requests)) == (1, 20)
    with raw_server(close) as server:
        results = exchange_all(target(server.port), BodyReader(), count=5)
        assert {r.outcome for r in results} == {Outcome.OK}
        assert (server.connections, len(server.requests)) == (5, 5)


def test_a_body_delimited_by_the_connection_closing_is_complete() -> None:
    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await w.drain()
        await asyncio.sleep(0.02)
        w.write(b" of the connection")
        await w.drain()
        w.close()

    reader = BodyReader()
    with raw_server(handler) as server:
        results = exchange_all(target(server.port), reader, count=2)
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert reader.bodies == [b"until the end of the connection"] * 2
    assert server.connections == 2


def test_a_second_response_in_the_same_read_is_never_given_to_the_next_request() -> None:
    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, head: bytes) -> None:
        # Two answers in one write, for one request: the second was not asked for.
        w.write(response(b"first") + response(b"stale"))
        await w.drain()

    reader = BodyReader()
    with raw_server(handler) as server:
        results = exchange_all(target(server.port), reader, count=3)
    assert [r.outcome for r in results] == [Outcome.OK] * 3
    assert reader.bodies == [b"first"] * 3  # never b"stale"
    assert server.connections == 3  # the connection with unasked-for bytes was dropped


def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error() -> None:
    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(response(b"ok"))  # keep-alive advertised ...
        await w.drain()
        w.close()  # ... then closed, as an idle timeout would

    async def main(port: int) -> list[CallResult]:
        transport = FastTransport(target(port), max_connections=1)
        clock = MonotonicClock()
        results = []
        for i in range(4):
            results.append(await transport.exchange(work(i), Timing(), clock, BodyReader()))
        await transport.aclose()
        return results

    with raw_server(handler) as server:
        results = asyncio.run(main(server.port))
    assert [r.outcome for r in results] == [Outcome.OK] * 4
    assert server.connections == 4


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"HTPT/9.9 two hundred\r\n\r\n", ErrorKind.PROTOCOL_ERROR),
        (b"HTTP/1.1 200 OK\r\nContent Length: 5\r\n\r\nhello", ErrorKind.PROTOCOL_ERROR),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ErrorKind.PROTOCOL_ERROR),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort", ErrorKind.CONNECTION_RESET),
        (b"", ErrorKind.CONNECTION_RESET),
    ],
    ids=["status-line", "header-name", "chunk-size", "closed-mid-body", "closed-before-answer"],
)
def test_malformed_or_cut_responses_are_classified(raw: bytes, kind: ErrorKind) -> None:
    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(raw)
        await w.drain()
        w.close()

    with raw_server(handler) as server:
        results = exchange_all(target(server.port), BodyReader(), count=2)
    assert [r.error_kind for r in results] == [kind, kind]
    assert all(r.outcome is Outcome.ERROR and r.error_message for r in results)


def test_timeouts_and_refused_connections_are_classified() -> None:
    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        await asyncio.sleep(2)

    async def stalls(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await w.drain()
        await asyncio.sleep(2)

    fast = {"connect": 1.0, "first_byte": 0.2, "total": 0.4}
    with raw_server(silent) as server:
        [result] = exchange_all(target(server.port, timeouts=fast), BodyReader())
        assert result.error_kind is ErrorKind.FIRST_BYTE_TIMEOUT
    with raw_server(stalls) as server:
        [result] = exchange_all(target(server.port, timeouts=fast), BodyReader())
        assert result.error_kind is ErrorKind.TOTAL_TIMEOUT
    [result] = exchange_all(target(free_port()), BodyReader())
    assert result.error_kind is ErrorKind.CONNECT_REFUSED


def test_request_bytes_carry_method_path_headers_and_body() -> None:
    async def handler(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
        w.write(response(b"{}"))

    async def main(port: int) -> CallResult:
        t = Target(base_url=f"http://127.0.0.1:{port}/api/", headers={"X-Key": "k1"})
        transport = FastTransport(t, max_connections=1)
        body = b'{"a": 1}'
        w = Work(seq=0, intended_at=0, action="t", method="POST", path="/v1/x?q=1", body=body)
        try:
            return await transport.exchange(w, Timing(), MonotonicClock(), BodyReader())
        finally:
            await transport.aclose()

    with raw_server(handler) as server:
        result = asyncio.run(main(server.port))
        head = server.requests[0].decode()
    assert result.outcome is Outcome.OK
    lines = head.split("\r\n")
    assert lines[0] == "POST /api/v1/x?q=1 HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["x-key"] == "k1"
    assert headers["content-length"] == "8"
