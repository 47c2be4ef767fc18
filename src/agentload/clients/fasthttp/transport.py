"""HTTP/1.1 transport on asyncio Protocols and httptools: the hot path of a run.

The same contract as ``clients.transport.HttpTransport`` (the aiohttp one): connect,
first-byte and total timeouts, the readers' ``read(response, ...)`` interface, every failure
returned as a ``CallResult`` with an error kind. It costs a fraction of aiohttp's CPU per
request (``docs/performance.md``) because it does less: no redirects, no proxies, no cookies,
no decompression (it does not ask for compression), HTTP/1.1 only. ``target.transport:
aiohttp`` selects the other one when those are needed.

A request line and its fixed headers are serialised once per (method, path) and reused.
A request that meets a kept-alive connection which the server had just closed (no byte of
the answer received) is sent once more on a new connection, as browsers do: the server
closed it idle, so it never saw the request.

Per request the hot path is one coroutine (this ``exchange``) and one future (the response
head, completed from the connection's read callback); the timeouts share one loop timer
(``deadline.py``). A reader may offer ``read_complete(response, clock)``, called first: the
result, without a coroutine, when the whole answer came with its head; ``None`` otherwise,
and then its ``read`` runs.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from agentload.clients.failures import classify_exception
from agentload.clients.fasthttp.connection import Connection, ServerDisconnected
from agentload.clients.fasthttp.deadline import Deadlines
from agentload.clients.fasthttp.pool import ConnectFailed, Pool
from agentload.clients.tls import tls_context
from agentload.clients.transport import ResponseReader
from agentload.clock import Clock
from agentload.config.models import Target
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work

_MAX_CACHED_HEADS = 1024  # distinct (method, path) request heads kept serialised


class FastTransport:
    def __init__(self, target: Target, *, max_connections: int) -> None:
        url = urlsplit(target.base_url)  # checked when the scenario was loaded
        secure = url.scheme == "https"
        port = url.port or (443 if secure else 80)
        host = url.hostname or "127.0.0.1"
        self._prefix = url.path.rstrip("/")  # as written (percent-encoded): the request line's
        self._first_byte_s = target.timeouts.first_byte
        self._total_s = target.timeouts.total
        self.max_response_bytes = target.max_response_bytes
        self._deadlines = Deadlines(self._first_byte_s, self._total_s)
        self._pool = Pool(
            host,
            port,
            limit=max_connections,
            connect_timeout_s=target.timeouts.connect,
            ssl_context=tls_context(target) if secure else None,
        )
        default_port = (secure and port == 443) or (not secure and port == 80)
        headers = {
            "host": host if default_port else f"{host}:{port}",
            "user-agent": "agentload",
            "accept": "*/*",
            "content-type": "application/json",
        }
        headers.update({name.lower(): value for name, value in target.headers.items()})
        self._fixed_headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._heads: dict[tuple[str, str], bytes] = {}

    def _request(self, work: Work) -> bytes:
        key = (work.method, work.path)
        head = self._heads.get(key)
        if head is None:
            path = self._prefix + "/" + work.path.lstrip("/")
            head = f"{work.method} {path} HTTP/1.1\r\n{self._fixed_headers}".encode("latin-1")
            if len(self._heads) < _MAX_CACHED_HEADS:
                self._heads[key] = head
        if work.headers:  # per request (a session-affinity header): never cached
            head += "".join(f"{name}: {value}\r\n" for name, value in work.headers).encode()
        body = work.body
        if body is None:
            if work.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
                return head + b"\r\n"
            return head + b"content-length: 0\r\n\r\n"
        return b"%scontent-length: %d\r\n\r\n%s" % (head, len(body), body)

    async def exchange(
        self, work: Work, timing: Timing, clock: Clock, reader: ResponseReader
    ) -> CallResult:
        # One coroutine from send to result on the common path (an idle connection, the
        # whole answer read): each extra await layer costs about a microsecond per request.
        timing.sent_at = clock.now_ns()
        deadline = self._deadlines.start(asyncio.get_running_loop(), timing, clock)
        pool = self._pool
        conn: Connection | None = None
        try:
            request = self._request(work)
            head_only = work.method == "HEAD"
            conn = pool.take_idle()
            if conn is None:
                conn, reused = await pool.acquire()
            else:
                reused = True
            try:
                response = await conn.send(request, head_only=head_only, on_first_byte=deadline)
            except ServerDisconnected:
                if not reused or conn.received_any:
                    raise
                # It had been closed while idle: the server never saw the request.
                pool.discard(conn)
                conn = None
                conn, _ = await pool.acquire()
                response = await conn.send(request, head_only=head_only, on_first_byte=deadline)
            try:
                read_complete = getattr(reader, "read_complete", None)
                if read_complete is not None:
                    result: CallResult | None = read_complete(response, clock)
                    if result is not None:  # all here already: no coroutine to run
                        return result
                return await reader.read(response, work, timing, clock)
            finally:
                pool.release(conn)  # reused only if the whole response was read
                conn = None
        except ConnectFailed as exc:
            return _error(clock, exc.kind, str(exc))
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            return self._failure(TimeoutError(), True, timing, clock)
        except Exception as exc:  # every failure is data, never an exception past here
            return self._failure(exc, deadline.expired, timing, clock)
        finally:
            self._deadlines.finish(deadline)
            if conn is not None:  # failed before or while waiting for the answer's head
                pool.discard(conn)

    def _failure(self, exc: Exception, timed_out: bool, timing: Timing, clock: Clock) -> CallResult:
        if timed_out and timing.first_byte_at is None and self._first_byte_s < self._total_s:
            return _error(
                clock, ErrorKind.FIRST_BYTE_TIMEOUT, f"no response within {self._first_byte_s:g}s"
            )
        if timed_out:
            return _error(clock, ErrorKind.TOTAL_TIMEOUT, f"not complete within {self._total_s:g}s")
        kind, message = classify_exception(exc, sent=timing.first_byte_at is not None)
        return _error(clock, kind, message)

    async def aclose(self) -> None:
        self._pool.close()
        self._deadlines.close()


def _error(clock: Clock, kind: ErrorKind, message: str) -> CallResult:
    return CallResult(
        done_at=clock.now_ns(), outcome=Outcome.ERROR, error_kind=kind, error_message=message
    )
