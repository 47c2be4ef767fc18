"""Response heads as the fast transport hands them over: header names and values are decoded
only when a reader looks, with the same answers as decoding them up front; framing headers
are read without regard to case; a whole small body is taken without waiting."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.clients.fasthttp.connection import Connection, ServerDisconnected
from agentload.clients.fasthttp.response import FastResponse, Headers


class FakeTransport(asyncio.Transport):
    def write(self, data: object) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


NAMES = st.sampled_from(["X-A", "x-a", "Content-Type", "Server-Timing", "Retry-After", "X-B"])
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_lazily_decoded_headers_answer_like_a_dict_built_up_front(
    pairs: list[tuple[str, str]],
) -> None:
    expected: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        expected[key] = f"{expected[key]}, {value}" if key in expected else value
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{n}: {v}\r\n" for n, v in pairs)
    head += "Content-Length: 0\r\n\r\n"
    expected["content-length"] = (
        f"{expected['content-length']}, 0" if "content-length" in expected else "0"
    )

    async def main() -> Headers:
        conn = Connection()
        conn.connection_made(FakeTransport())
        future = conn.send(b"GET / HTTP/1.1\r\n\r\n")
        conn.data_received(head.encode("latin-1"))
        return (await future).headers

    headers = asyncio.run(main())
    assert dict(headers) == expected
    for name, _ in pairs:
        assert headers.get(name.upper()) == expected[name.lower()] == headers[name]
        assert name.swapcase() in headers
    assert headers.get("absent") is None and headers.get("absent", "d") == "d"
    assert Headers(dict(expected)) == headers  # the eager form (tests, aiohttp) is the same


@pytest.mark.parametrize("coding", [b"chunked", b"Chunked", b"CHUNKED"])
def test_a_chunked_body_cut_by_the_server_is_an_error_whatever_the_case(coding: bytes) -> None:
    async def main() -> bytes:
        conn = Connection()
        conn.connection_made(FakeTransport())
        future = conn.send(b"GET / HTTP/1.1\r\n\r\n")
        conn.data_received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n")
        conn.data_received(b"10\r\nonly part")
        conn.connection_lost(None)
        return await (await future).content.read()

    with pytest.raises(ServerDisconnected):
        asyncio.run(main())


def test_a_whole_body_that_came_with_its_head_is_taken_without_waiting() -> None:
    async def main() -> tuple[bytes | None, bytes | None, bool, bytes | None]:
        conn = Connection()
        conn.connection_made(FakeTransport())
        future = conn.send(b"GET / HTTP/1.1\r\n\r\n")
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
        response: FastResponse = await future
        early = response.content.take_complete()  # not all here: nothing taken
        conn.data_received(b"lo")
        whole = response.content.take_complete()
        return early, whole, conn.reusable(), response.content.take_complete()

    early, whole, reusable, again = asyncio.run(main())
    assert (early, whole, reusable, again) == (None, b"hello", True, b"")
