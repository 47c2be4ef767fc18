"""A loopback HTTP server that misbehaves on purpose, at the byte level.

It speaks just enough HTTP/1.1 to read a request, then does what the request path asks
(``/<behaviour>``, see ``BEHAVIOURS``): answer well, never answer, stall after the headers,
reset mid-body, send broken SSE, answer 200 with an error object, send an endless body, 429
with or without ``Retry-After``, trickle bytes one by one. Each connection serves one request
and is then closed, so every request the client sends is one ``requests`` count here.

Binds 127.0.0.1 only. Runs its own event loop in a daemon thread so a test's client loop (or
a subprocess) can use it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}\n\n'
_FINISH = (
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}\n\n'
)
_COMPLETION = json.dumps(
    {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()
_ERROR_OBJECT = b'{"error":{"message":"upstream overloaded","type":"server_error"}}'
TRICKLE_S = 0.25  # how long slow_bytes takes to send a whole answer
_HANG_S = 3600.0  # longer than any test; the server's shutdown cancels it


@dataclass
class HostileState:
    """What the server saw: requests per behaviour, connections now open, header values."""

    requests: Counter[str] = field(default_factory=Counter)
    open_connections: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    flaky_counts: Counter[str] = field(default_factory=Counter)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


Writer = asyncio.StreamWriter
Behaviour = Callable[[Writer, dict[str, str], HostileState], Awaitable[None]]


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def _sse_head() -> bytes:
    return _head(
        "200 OK",
        {
            "Content-Type": "text/event-stream",
            "Transfer-Encoding": "chunked",
            "Connection": "close",
        },
    )


def _chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _send_json(writer: Writer, status: str, body: bytes, **extra: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    writer.write(_head(status, {**headers, "Connection": "close"}) + body)
    await writer.drain()


async def _send_stream(writer: Writer, events: list[bytes], *, terminate: bool = True) -> None:
    writer.write(_sse_head())
    for event in events:
        writer.write(_chunked(event))
        await writer.drain()
    if terminate:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _reset(writer: Writer) -> None:
    """Close with RST instead of FIN (SO_LINGER 0): the peer sees a reset, not an end."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def ok(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """A well-behaved answer: SSE when the request asks for a stream, else JSON."""
    if headers.get("x-stream") == "1":
        await _send_stream(writer, [_CHUNK, _CHUNK, _FINISH, b"data: [DONE]\n\n"])
    else:
        await _send_json(writer, "200 OK", _COMPLETION)


async def hang(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await asyncio.sleep(_HANG_S)


async def close_at_once(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    writer.close()


async def stall_after_headers(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    writer.write(_head("200 OK", {"Content-Type": "application/json", "Content-Length": "100"}))
    await writer.drain()
    await asyncio.sleep(_HANG_S)


async def reset_mid_body(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    writer.write(_head("200 OK", {"Content-Type": "application/json", "Content-Length": "1000"}))
    writer.write(b'{"choices": [')
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)


async def reset_mid_stream(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_stream(writer, [_CHUNK, _CHUNK], terminate=False)
    await asyncio.sleep(0.05)
    _reset(writer)


async def sse_without_data(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_stream(writer, [b"event: token\nid: 1\n\n", b"retry: 10\n\n", b"junk line\n\n"])


async def sse_invalid_json(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_stream(writer, [_CHUNK, b'data: {"choices": [\n\n', _FINISH])


async def sse_no_done(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_stream(writer, [_CHUNK, _CHUNK, _CHUNK])


async def sse_open_after_done(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """A whole answer up to ``[DONE]``, then the body left unfinished (no last chunk) and the
    connection held open: the answer counts, and the client does not wait for the end."""
    await _send_stream(writer, [_CHUNK, _FINISH, b"data: [DONE]\n\n"], terminate=False)
    await asyncio.sleep(_HANG_S)


async def sse_error_event(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_stream(writer, [_CHUNK, b"event: error\ndata: " + _ERROR_OBJECT + b"\n\n"])


async def error_in_200(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_json(writer, "200 OK", _ERROR_OBJECT)


async def huge_body(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """Announces 1 GiB and sends zeros until the client gives up."""
    size = 1 << 30
    writer.write(_head("200 OK", {"Content-Type": "text/plain", "Content-Length": str(size)}))
    block = b"0" * 65536
    for _ in range(size // len(block)):
        writer.write(block)
        await writer.drain()


async def endless_body(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    writer.write(_head("200 OK", {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}))
    block = _chunked(b"x" * 65536)
    while True:
        writer.write(block)
        await writer.drain()


async def endless_stream(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """An SSE stream of content tokens that never finishes."""
    writer.write(_sse_head())
    block = _chunked(_CHUNK * 512)
    while True:
        writer.write(block)
        await writer.drain()


async def rate_limited(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_json(writer, "429 Too Many Requests", _ERROR_OBJECT, Retry_After="1")


async def rate_limited_bare(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_json(writer, "429 Too Many Requests", b"")


async def server_error(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    await _send_json(writer, "503 Service Unavailable", _ERROR_OBJECT)


async def slow_bytes(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """A complete, valid answer, one byte at a time, paced to take ``TRICKLE_S`` in all
    (paced by the clock, so a busy machine does not stretch it)."""
    if headers.get("x-stream") == "1":
        body = b"".join(_chunked(e) for e in (_CHUNK, _FINISH, b"data: [DONE]\n\n")) + b"0\r\n\r\n"
        data = _sse_head() + body
    else:
        head = {"Content-Type": "application/json", "Content-Length": str(len(_COMPLETION))}
        data = _head("200 OK", {**head, "Connection": "close"}) + _COMPLETION
    loop = asyncio.get_running_loop()
    started, step = loop.time(), TRICKLE_S / len(data)
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        await writer.drain()
        await asyncio.sleep(max(0.0, started + (index + 1) * step - loop.time()))


async def garbage_status(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    writer.write(b"HTPT/9.9 two hundred\r\n\r\n")
    await writer.drain()


async def echo_auth(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """A 401 whose body repeats the request's headers, credentials too (servers do this)."""
    body = json.dumps({"error": {"message": f"rejected {headers}"}})
    await _send_json(writer, "401 Unauthorized", body.encode())


async def flaky(writer: Writer, headers: dict[str, str], state: HostileState) -> None:
    """Two of every three requests fail with 503: the 1st and 2nd fail, the 3rd succeeds."""
    state.flaky_counts["flaky"] += 1
    if state.flaky_counts["flaky"] % 3 != 0:
        await server_error(writer, headers, state)
    else:
        await ok(writer, headers, state)


BEHAVIOURS: dict[str, Behaviour] = {
    f.__name__: f
    for f in (
        ok,
        hang,
        close_at_once,
        stall_after_headers,
        reset_mid_body,
        reset_mid_stream,
        sse_without_data,
        sse_invalid_json,
        sse_no_done,
        sse_open_after_done,
        sse_error_event,
        error_in_200,
        huge_body,
        endless_body,
        endless_stream,
        rate_limited,
        rate_limited_bare,
        server_error,
        slow_bytes,
        garbage_status,
        echo_auth,
        flaky,
    )
}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) > 1 else "/"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        body = await reader.readexactly(length)
        if b'"stream": true' in body or b'"stream":true' in body:
            headers["x-stream"] = "1"
    return path, headers


class HostileServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.state = HostileState()
        self._tls = tls
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.state.open_connections += 1
        try:
            request = await _read_request(reader)
            if request is None:
                return
            path, headers = request
            name = path.strip("/").split("/")[-1].split("?")[0]
            behaviour = BEHAVIOURS.get(name, ok)
            self.state.requests[behaviour.__name__] += 1
            self.state.seen_headers.append(headers)
            # The client hanging up ends the behaviour too (a hang or a stall notices).
            acting = asyncio.ensure_future(behaviour(writer, headers, self.state))
            hangup = asyncio.ensure_future(reader.read())
            try:
                await asyncio.wait({acting, hangup}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (acting, hangup):
                    task.cancel()
                await asyncio.gather(acting, hangup, return_exceptions=True)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.state.open_connections -= 1
            self._tasks.discard(task)
            with suppress(Exception):
                writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, backlog=512, ssl=self._tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        thread = threading.Thread(target=main, daemon=True)
        thread.start()
        assert started.wait(10), "hostile server did not start"
        try:
            yield self
        finally:
            future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            with suppress(Exception):
                future.result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(timeout=5)


@contextmanager
def hostile_server(tls: ssl.SSLContext | None = None) -> Iterator[HostileServer]:
    with HostileServer(tls).running() as server:
        yield server


if __name__ == "__main__":  # a manual target: python -m tests.hostile_server
    with hostile_server() as running:
        print(running.url, flush=True)
        threading.Event().wait()
