"""HTTP transport shared by the protocol clients: one pooled aiohttp session per run.

Timeouts: connect (aiohttp's), first byte (headers received), total (whole exchange).
The protocol-specific part reads the response through ``ResponseReader``; every failure is
caught here and becomes a ``CallResult`` with an error kind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from agentload.clients.classify import classify_body
from agentload.clients.failures import (
    BodyTooLarge,
    classify_exception,
    classify_status,
    read_errors,
)
from agentload.clients.retry import parse_retry_after
from agentload.clients.tls import tls_context
from agentload.clock import Clock
from agentload.config import secrets
from agentload.config.models import Target
from agentload.config.sessions import DEFAULT_CLASSIFY, ClassifyRule
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work

if TYPE_CHECKING:  # aiohttp (~25 MB) is imported only when the aiohttp transport is used
    import aiohttp

    from agentload.clients.tracing import ClientPhases

_ERROR_BODY_PREVIEW = 4096
_ERROR_BODY_WAIT_S = 1.0


class ResponseBody(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]: ...
    async def read(self, n: int = -1) -> bytes: ...
    async def readany(self) -> bytes: ...
    def at_eof(self) -> bool: ...


class Response(Protocol):
    """What readers use of a response; ``aiohttp.ClientResponse`` and the fast transport's
    ``FastResponse`` both fit."""

    @property
    def status(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> ResponseBody: ...
    def close(self) -> None: ...


class ResponseReader(Protocol):
    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult: ...


class Transport(Protocol):
    max_response_bytes: int

    async def exchange(
        self, work: Work, timing: Timing, clock: Clock, reader: ResponseReader
    ) -> CallResult: ...

    async def aclose(self) -> None: ...


def open_transport(target: Target, *, max_connections: int) -> Transport:
    """``target.transport``: ``fast`` (``clients.fasthttp``) unless aiohttp is asked for or
    needed (``auto`` keeps aiohttp when the target asks for compressed responses, for client
    phases, or goes through a proxy)."""
    choice = target.transport
    if choice == "auto":
        asks_compression = any(name.lower() == "accept-encoding" for name in target.headers)
        # client_phases are timed through aiohttp's trace hooks (clients.tracing)
        needs_aiohttp = asks_compression or target.client_phases or target.proxy is not None
        choice = "aiohttp" if needs_aiohttp else "fast"
    if choice == "fast":
        from agentload.clients.fasthttp import FastTransport

        return FastTransport(target, max_connections=max_connections)
    return HttpTransport(target, max_connections=max_connections)


class HttpTransport:
    """The aiohttp transport (``target.transport: aiohttp``, or ``auto`` where it is needed)."""

    def __init__(self, target: Target, *, max_connections: int) -> None:
        from agentload.clients import tracing  # imports aiohttp

        self._tracing = tracing
        self._target = target
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._first_byte_s = target.timeouts.first_byte
        self._total_s = target.timeouts.total
        self.max_response_bytes = target.max_response_bytes
        self._client_phases = target.client_phases

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            ttl_dns_cache=300,
            ssl=tls_context(self._target),
        )
        timeout = aiohttp.ClientTimeout(
            ceil_threshold=1e9,  # aiohttp would round timeouts above 5 s up to whole seconds
            total=None,
            connect=self._target.timeouts.connect,
            sock_connect=self._target.timeouts.connect,
        )
        self._session = aiohttp.ClientSession(
            base_url=self._target.base_url.rstrip("/") + "/",
            connector=connector,
            timeout=timeout,
            headers={"Content-Type": "application/json", **self._target.headers},
            auto_decompress=True,
            raise_for_status=False,
            trace_configs=[self._tracing.phase_trace_config()] if self._client_phases else None,
        )
        return self._session

    async def exchange(
        self, work: Work, timing: Timing, clock: Clock, reader: ResponseReader
    ) -> CallResult:
        loop = asyncio.get_running_loop()
        start_s = loop.time()
        timing.sent_at = clock.now_ns()
        # One timeout object, moved from the first-byte deadline to the total deadline once
        # headers arrive: half the cost of two nested ones on the hot path.
        deadline = asyncio.timeout_at(start_s + min(self._first_byte_s, self._total_s))
        phases: ClientPhases | None = self._tracing.ClientPhases() if self._client_phases else None
        try:
            session = self._session or self._open()
            async with deadline:
                response = await session.request(
                    work.method,
                    work.path.lstrip("/"),
                    data=work.body,
                    headers=dict(work.headers) if work.headers else None,
                    trace_request_ctx=phases,
                    proxy=self._target.proxy,
                )
                timing.first_byte_at = clock.now_ns()
                deadline.reschedule(start_s + self._total_s)
                async with response:
                    result = await reader.read(response, work, timing, clock)
        except Exception as exc:  # every failure is data, never an exception past here
            result = self._failure(exc, deadline.expired(), timing, clock)
        if phases is not None:
            result.phases_ms.update(phases.phases_ms())
        return result

    def _failure(self, exc: Exception, timed_out: bool, timing: Timing, clock: Clock) -> CallResult:
        if timed_out and timing.first_byte_at is None and self._first_byte_s < self._total_s:
            kind, message = (
                ErrorKind.FIRST_BYTE_TIMEOUT,
                (f"no response within {self._first_byte_s:g}s"),
            )
        elif timed_out:
            kind, message = ErrorKind.TOTAL_TIMEOUT, f"not complete within {self._total_s:g}s"
        else:
            kind, message = classify_exception(exc, sent=timing.first_byte_at is not None)
        return CallResult(
            done_at=clock.now_ns(), outcome=Outcome.ERROR, error_kind=kind, error_message=message
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def error_result(
    response: Response,
    clock: Clock,
    cap: int,
    rules: Sequence[ClassifyRule] = DEFAULT_CLASSIFY,
) -> CallResult:
    """A non-success status: classify it (``rules``: which bodies mean model_oom or
    context_lost) and keep the start of the body as the message."""
    try:
        # The status is the finding; a body that stalls must not turn it into a timeout.
        async with asyncio.timeout(_ERROR_BODY_WAIT_S):
            preview = await response.content.read(min(cap, _ERROR_BODY_PREVIEW))
    except read_errors():
        preview = b"(body not read)"
        response.close()
    text = preview.decode("utf-8", "replace").strip().replace("\n", " ")
    kind = classify_body(response.status, preview, rules) or classify_status(response.status)
    message = f"HTTP {response.status}" + (f": {text[:200]}" if text else "")
    return CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.ERROR,
        error_kind=kind,
        error_message=secrets.redact_text(message),  # servers echo the key they were sent
        http_status=response.status,
        retry_after_s=parse_retry_after(response.headers.get("Retry-After"), time.time()),
    )


async def read_capped(response: Response, cap: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` once more than ``cap`` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"response exceeded {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
