"""Counts every request by route and status, and gives every response a ``Server-Timing``.

Turn responses set their own ``Server-Timing`` (the agent's phases); any other response —
health, metrics, 404s, the A2A card — gets ``total`` here, so a client can always read one.
A pure ASGI middleware (not ``BaseHTTPMiddleware``) so streamed bodies pass through as they
are produced.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.profiles import is_work_request

_SERVER_TIMING = b"server-timing"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: AgentMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the server sends a 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == _SERVER_TIMING for name, _ in headers):
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    headers.append((_SERVER_TIMING, f"total;dur={elapsed_ms:.3f}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_timed)
        finally:
            self.metrics.in_flight.dec()
            endpoint = _endpoint(scope)
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.request_seconds.labels(endpoint).observe(time.perf_counter() - started)


def _endpoint(scope: Scope) -> str:
    """The matched route's template (``/v1/tasks/{task_id}``), keeping labels bounded."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "endpoint" in scope:  # a plain Starlette route (/openapi.json, /docs): a fixed path
        return str(scope["path"])
    if is_work_request(scope):  # answered before routing (an injected fault)
        raw: str = scope["path"]
        return "/v1/sessions/{session_id}/messages" if raw.startswith("/v1/sessions/") else raw
    return "unmatched"
