"""The fast transport's connection and body stream over arbitrary byte splits (no sockets):
whatever way the bytes are cut, the same head and body come out, and nothing past the end of
a response is ever given to anyone."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.clients.fasthttp.connection import Connection
from agentload.clients.fasthttp.response import Body, FastResponse, Headers
from agentload.clients.fasthttp.transport import FastTransport
from agentload.config.models import Target
from agentload.sessions.work import Work


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.paused = False

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return [p for p in pieces if p]


def chunked(body: bytes, size: int) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


async def exchange(wire: list[bytes], *, eof: bool = False) -> tuple[FastResponse, bytes, bool]:
    conn = Connection()
    transport = FakeTransport()
    conn.connection_made(transport)
    head = conn.send(b"GET / HTTP/1.1\r\n\r\n")
    for piece in wire:
        conn.data_received(piece)
    if eof:
        conn.connection_lost(None)
    response = await head
    body = await response.content.read()
    return response, body, conn.reusable()


BODIES = st.binary(min_size=0, max_size=3000)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=40)


@settings(max_examples=150, deadline=None)
@given(body=BODIES, cuts=CUTS, size=st.integers(min_value=1, max_value=700))
def test_chunked_and_content_length_bodies_survive_any_split(
    body: bytes, cuts: list[int], size: int
) -> None:
    for framing, payload in (
        (b"Transfer-Encoding: chunked", chunked(body, size)),
        (b"Content-Length: %d" % len(body), body),
    ):
        raw = b"HTTP/1.1 200 OK\r\nX-Tag: A\r\n" + framing + b"\r\n\r\n" + payload
        response, got, reusable = asyncio.run(exchange(split(raw, cuts)))
        assert (response.status, got, reusable) == (200, body, True)
        assert response.headers["x-tag"] == "A"


@settings(max_examples=100, deadline=None)
@given(body=BODIES, cuts=CUTS)
def test_a_body_without_length_ends_with_the_connection(body: bytes, cuts: list[int]) -> None:
    raw = b"HTTP/1.1 200 OK\r\n\r\n" + body
    _response, got, reusable = asyncio.run(exchange(split(raw, cuts), eof=True))
    assert (got, reusable) == (body, False)


@settings(max_examples=100, deadline=None)
@given(first=BODIES, second=BODIES, cuts=CUTS)
def test_bytes_after_the_response_are_never_read_and_spoil_the_connection(
    first: bytes, second: bytes, cuts: list[int]
) -> None:
    def resp(b: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)

    _response, got, reusable = asyncio.run(exchange(split(resp(first) + resp(second), cuts)))
    assert got == first
    assert not reusable


def test_headers_are_case_insensitive_and_content_type_is_normalised() -> None:
    headers = Headers({"content-type": "Text/Event-Stream; charset=utf-8", "location": "/x"})
    assert headers.get("Location") == "/x" and "LOCATION" in headers
    assert headers.get("missing") is None

    async def main() -> str:
        response = FastResponse(Connection())
        response.headers = headers
        return response.content_type

    assert asyncio.run(main()) == "text/event-stream"


def test_body_read_n_returns_at_most_n_and_keeps_the_rest() -> None:
    async def main() -> list[bytes]:
        conn = Connection()
        conn.connection_made(FakeTransport())
        body = Body(conn)
        body.feed(b"hello world")
        body.feed_eof()
        return [await body.read(4), await body.read(100), await body.read(5)]

    assert asyncio.run(main()) == [b"hell", b"o world", b""]


def test_a_slow_reader_pauses_the_socket_until_it_catches_up() -> None:
    async def main() -> tuple[bool, bool]:
        conn = Connection()
        transport = FakeTransport()
        conn.connection_made(transport)
        body = Body(conn)
        for _ in range(100):
            body.feed(b"x" * 8192)
        paused = transport.paused
        await body.readany()
        return paused, transport.paused

    assert asyncio.run(main()) == (True, False)


def test_request_heads_are_serialised_once_with_length_and_prefix() -> None:
    t = FastTransport(
        Target(base_url="http://h.example:8080/base", headers={"Authorization": "Bearer x"}),
        max_connections=1,
    )
    post = Work(seq=0, intended_at=0, action="a", method="POST", path="/v1/c", body=b"{}")
    get = Work(seq=1, intended_at=0, action="a", method="GET", path="v1/m", body=None)
    raw = t._request(post)
    assert raw.startswith(b"POST /base/v1/c HTTP/1.1\r\n")
    assert b"host: h.example:8080\r\n" in raw and b"authorization: Bearer x\r\n" in raw
    assert raw.endswith(b"content-length: 2\r\n\r\n{}")
    assert t._request(get).startswith(b"GET /base/v1/m HTTP/1.1\r\n")
    assert t._request(get).endswith(b"\r\n\r\n") and b"content-length" not in t._request(get)
