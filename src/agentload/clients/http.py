"""Plain HTTP client: any method and body; success is a status in ``ok_status``."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from agentload.clients.classify import rules_for
from agentload.clients.failures import BodyTooLarge
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import Clock
from agentload.config.models import HttpRequest, Target
from agentload.records.record import CallResult, Outcome, Timing
from agentload.sessions.work import Work

if TYPE_CHECKING:
    from agentload.clients.fasthttp.response import FastResponse


class HttpClient:
    def __init__(self, target: Target, request: HttpRequest, *, max_connections: int) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._rules = rules_for(target)
        self._ok_status = frozenset(request.ok_status)

    def call(self, work: Work, timing: Timing, clock: Clock) -> Coroutine[Any, Any, CallResult]:
        # The transport's coroutine itself, not one wrapped around it: a frame less per request.
        return self._transport.exchange(work, timing, clock, self)

    def read_complete(self, response: FastResponse, clock: Clock) -> CallResult | None:
        """The result without waiting, when it is a success whose whole body has arrived
        (the common case of a small answer); ``None`` when ``read`` must run."""
        if response.status not in self._ok_status:
            return None
        body = response.content.take_complete()
        if body is None:
            return None
        if len(body) > self._transport.max_response_bytes:
            raise BodyTooLarge(f"response exceeded {self._transport.max_response_bytes} bytes")
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=response.status)

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        cap = self._transport.max_response_bytes
        if response.status not in self._ok_status:
            return await error_result(response, clock, cap, self._rules)
        await read_capped(response, cap)
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=response.status)

    async def aclose(self) -> None:
        await self._transport.aclose()
