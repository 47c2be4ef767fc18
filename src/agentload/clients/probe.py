"""``agentload probe URL``: what the network and the server's front door cost, request by request.

One round, repeated ``repeat`` times (each on a fresh connection, sequentially):

1. ``dns_ms``: ``getaddrinfo`` of the host (the system resolver, no cache of ours; an IP
   address resolves at once);
2. ``connect_ms``: the TCP handshake to the first address;
3. ``tls_ms``: the TLS handshake (https only);
4. ``ttfb_new_ms``: a ``GET`` of the URL's path on that new connection, from the request
   written to the first response byte; ``new_connection_ms`` is the sum of 1-4, what a
   client without keep-alive pays before its first byte;
5. ``ttfb_reused_ms``: the same ``GET`` again on the same connection (keep-alive reuse);
   absent when the server closed the connection (then the upload opens a new one);
6. ``upload_mb_per_s``: a ``POST`` of ``body_bytes`` (to ``upload_path``, default the same
   path), from the first body byte written to the response head. It measures the network
   only if the server reads the whole body before it answers (a JSON endpoint does, and
   answers 4xx to the bytes): one that answers at once shows the speed of the local socket
   buffers instead. ``upload_status`` keeps the status, so the reader can tell.

Every step has ``timeout_s``; a failed step ends its round and is counted in ``errors``.
Traffic goes only where the URL says, in a bounded number of requests (3 per round).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field

import httptools
from yarl import URL

_READ_BYTES = 65536
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_UPLOAD_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    url: str
    host: str
    port: int
    path: str
    tls: bool
    insecure: bool = False
    upload_path: str | None = None  # where the POST goes (default: path); it must read the body

    @classmethod
    def parse(
        cls, url: str, *, insecure: bool = False, upload_path: str | None = None
    ) -> ProbeTarget:
        """Raises ValueError with a one-line reason for anything but http(s)://host[:port]/..."""
        try:
            parsed = URL(url)
            port = parsed.port
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{url!r} is not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"{url!r}: write it as http(s)://host[:port][/path]")
        if port is None:
            raise ValueError(f"{url!r}: no port")
        path = parsed.raw_path_qs or "/"
        if upload_path is not None and not upload_path.startswith("/"):
            raise ValueError(f"upload path {upload_path!r}: start it with /")
        tls = parsed.scheme == "https"
        return cls(url, parsed.host, port, path, tls, insecure, upload_path)


@dataclass(slots=True)
class Round:
    values: dict[str, float] = field(default_factory=dict)
    status: int | None = None
    error: str | None = None
    keep_alive: bool | None = None
    upload_status: int | None = None


class _Response:
    """httptools callbacks: the status arrives with the head; the message ends once."""

    def __init__(self) -> None:
        self.head_done = False
        self.complete = False
        self.body_bytes = 0
        self.keep_alive = False
        self.parser: httptools.HttpResponseParser | None = None

    def on_headers_complete(self) -> None:
        self.head_done = True
        # Valid only inside the parser's callbacks: it resets once the message is complete.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)

    def on_message_complete(self) -> None:
        self.complete = True


async def _read_response(
    reader: asyncio.StreamReader, started: float, head_only: bool = False
) -> tuple[float, int, bool]:
    """(seconds to the first byte, status, keep-alive) after reading the whole response."""
    state = _Response()
    parser = state.parser = httptools.HttpResponseParser(state)
    first_byte_s: float | None = None
    received = 0
    while not state.complete:
        chunk = await reader.read(_READ_BYTES)
        if first_byte_s is None:
            first_byte_s = time.perf_counter() - started
        if not chunk:
            if state.head_done:  # a body delimited by the connection closing
                break
            raise ConnectionError("the server closed the connection before answering")
        received += len(chunk)
        if received > _MAX_RESPONSE_BYTES:
            raise ConnectionError(f"response larger than {_MAX_RESPONSE_BYTES} bytes")
        parser.feed_data(chunk)
        if head_only and state.head_done:
            break
    assert first_byte_s is not None
    return first_byte_s, parser.get_status_code(), state.complete and state.keep_alive


def _request(target: ProbeTarget, method: str, path: str, body_bytes: int = 0) -> bytes:
    host = target.host if ":" not in target.host else f"[{target.host}]"
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{target.port}",
        "User-Agent: agentload-probe",
        "Accept: */*",
        "Connection: keep-alive",
    ]
    if method == "POST":
        lines += ["Content-Type: application/octet-stream", f"Content-Length: {body_bytes}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def tls_context(insecure: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Step:
    """The step in progress, for the error message of a round that fails."""

    name = "dns"


async def _open(
    target: ProbeTarget, timeout_s: float, step: _Step, values: dict[str, float]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A fresh connection (DNS, TCP, TLS), each step timed into ``values``."""
    step.name = "dns"
    mark = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
    values["dns_ms"] = (time.perf_counter() - mark) * 1000
    family, _, _, _, address = infos[0]
    step.name = "connect"
    mark = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(
            str(address[0]), int(address[1]), family=family
        )
    values["connect_ms"] = (time.perf_counter() - mark) * 1000
    if target.tls:
        step.name = "tls"
        mark = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                await writer.start_tls(tls_context(target.insecure), server_hostname=target.host)
        except BaseException:
            writer.close()
            raise
        values["tls_ms"] = (time.perf_counter() - mark) * 1000
    return reader, writer


async def probe_round(target: ProbeTarget, *, body_bytes: int, timeout_s: float) -> Round:
    out = Round()
    step = _Step()
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await _open(target, timeout_s, step, out.values)
        step.name = "first request"
        first_s, out.status, out.keep_alive = await _exchange(reader, writer, target, timeout_s)
        out.values["ttfb_new_ms"] = first_s * 1000
        parts = ("dns_ms", "connect_ms", "tls_ms", "ttfb_new_ms")
        out.values["new_connection_ms"] = sum(out.values.get(k, 0.0) for k in parts)
        alive = out.keep_alive
        if alive:
            step.name = "reused request"
            reused_s, _, alive = await _exchange(reader, writer, target, timeout_s)
            out.values["ttfb_reused_ms"] = reused_s * 1000
        if body_bytes > 0:
            if not alive:  # the server closed it: upload on a new connection, not timed again
                writer.close()
                reader, writer = await _open(target, timeout_s, step, {})
            step.name = "upload"
            rate, out.upload_status = await _upload(reader, writer, target, body_bytes, timeout_s)
            out.values["upload_mb_per_s"] = rate
    except (OSError, TimeoutError, ssl.SSLError, httptools.HttpParserError, IndexError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (str(exc) or type(exc).__name__)
        out.error = f"{step.name}: {reason}"
    finally:
        if writer is not None:
            writer.close()
    return out


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: ProbeTarget,
    timeout_s: float,
) -> tuple[float, int, bool]:
    async with asyncio.timeout(timeout_s):
        started = time.perf_counter()
        writer.write(_request(target, "GET", target.path))
        await writer.drain()
        return await _read_response(reader, started)


async def _upload(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: ProbeTarget,
    body_bytes: int,
    timeout_s: float,
) -> tuple[float, int]:
    chunk = bytes(range(256)) * (_UPLOAD_CHUNK // 256)
    async with asyncio.timeout(timeout_s):
        writer.write(_request(target, "POST", target.upload_path or target.path, body_bytes))
        started = time.perf_counter()
        left = body_bytes
        while left > 0:
            piece = chunk if left >= len(chunk) else chunk[:left]
            writer.write(piece)
            await writer.drain()
            left -= len(piece)
        _, status, _ = await _read_response(reader, started, head_only=True)
        elapsed_s = time.perf_counter() - started
    return body_bytes / 1e6 / max(elapsed_s, 1e-9), status


async def run_probe(
    target: ProbeTarget, *, repeat: int, body_bytes: int, timeout_s: float, pause_s: float = 0.0
) -> list[Round]:
    """``repeat`` rounds one after another (never concurrently), ``pause_s`` apart."""
    rounds: list[Round] = []
    for index in range(repeat):
        if index and pause_s > 0:
            await asyncio.sleep(pause_s)
        rounds.append(await probe_round(target, body_bytes=body_bytes, timeout_s=timeout_s))
    return rounds
