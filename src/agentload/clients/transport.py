"""HTTP transport shared by the protocol clients: one pooled aiohttp session per run.

Timeouts: connect (aiohttp's), first byte (headers received), total (whole exchange).
The protocol-specific part reads the response through ``ResponseReader``; every failure is
caught here and becomes a ``CallResult`` with an error kind.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiohttp

from agentload.clients.failures import BodyTooLarge, classify_exception, classify_status
from agentload.clock import Clock
from agentload.config.models import Target
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work

_ERROR_BODY_PREVIEW = 4096
_ERROR_BODY_WAIT_S = 1.0


class ResponseReader(Protocol):
    async def read(
        self, response: aiohttp.ClientResponse, work: Work, timing: Timing, clock: Clock
    ) -> CallResult: ...


class HttpTransport:
    def __init__(self, target: Target, *, max_connections: int) -> None:
        self._target = target
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._first_byte_s = target.timeouts.first_byte
        self._total_s = target.timeouts.total
        self.max_response_bytes = target.max_response_bytes

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300
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
        try:
            session = self._session or self._open()
            async with deadline:
                response = await session.request(work.method, work.path.lstrip("/"), data=work.body)
                timing.first_byte_at = clock.now_ns()
                deadline.reschedule(start_s + self._total_s)
                async with response:
                    return await reader.read(response, work, timing, clock)
        except Exception as exc:  # every failure is data, never an exception past here
            return self._failure(exc, deadline.expired(), timing, clock)

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


async def error_result(response: aiohttp.ClientResponse, clock: Clock, cap: int) -> CallResult:
    """A non-success status: classify it and keep the start of the body as the message."""
    try:
        # The status is the finding; a body that stalls must not turn it into a timeout.
        async with asyncio.timeout(_ERROR_BODY_WAIT_S):
            preview = await response.content.read(min(cap, _ERROR_BODY_PREVIEW))
    except (TimeoutError, aiohttp.ClientError):
        preview = b"(body not read)"
        response.close()
    text = preview.decode("utf-8", "replace").strip().replace("\n", " ")
    kind = classify_status(response.status)
    if b"model_oom" in preview:  # {"error": {"type": "model_oom"}}: the reference agent, vLLM-like
        kind = ErrorKind.MODEL_OOM
    message = f"HTTP {response.status}" + (f": {text[:200]}" if text else "")
    return CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.ERROR,
        error_kind=kind,
        error_message=message,
        http_status=response.status,
    )


async def read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` once more than ``cap`` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"response exceeded {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
