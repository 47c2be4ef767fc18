"""HTTP responses over a turn's events: JSON, errors, and SSE streams.

A stream's headers leave with its first token or tool call (``open_turn``), so a turn that
fails before producing anything — model OOM, a store error — is answered with its own
status rather than a 200 whose body is an error. Until then only the HTTP layer's own view
of the turn is known: ``Server-Timing`` carries ``store_read`` when the runner reported it,
and the marker ``phases;desc=...``; every phase comes at the end of the stream (see
``routes_chat`` and ``routes_sessions`` for the two encodings).

A stream cut on purpose (``faults.reset_rate``) raises ``StreamCut`` from its body after
aborting the connection; ``TurnStream`` then sends nothing more, not even the final empty
chunk, so the client sees a truncated stream whatever the server does with the socket.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from agentload.clock import NS_PER_MS
from agentload.protocol.openai_chat import encode_error
from agentload.reference_agent.turn import Failed, StepStarted, Token, ToolCall, TurnEvent
from agentload.reference_agent.turns import server_timing

JSON = "application/json"
SSE = "text/event-stream"
STREAM_MARKER = 'phases;desc="sent at the end of the stream"'
_encoder = msgspec.json.Encoder()


class StreamCut(Exception):
    """The body generator aborted the connection; send nothing more."""


def json_response(
    payload: Any, *, status: int = 200, timing: str | None = None, headers: Mapping[str, str] = {}
) -> Response:
    extra = dict(headers)
    if timing:
        extra["Server-Timing"] = timing
    return Response(_encoder.encode(payload), status, headers=extra, media_type=JSON)


def error_response(
    status: int, message: str, error_type: str, since_ns: int, phases_ms: Mapping[str, float] = {}
) -> Response:
    """An OpenAI-style error; ``Server-Timing`` has the turn's phases, or the time taken."""
    timing = server_timing(phases_ms) if phases_ms else ""
    if not timing:
        timing = f"total;dur={(time.monotonic_ns() - since_ns) / NS_PER_MS:.3f}"
    body = encode_error(message, error_type)
    return Response(body, status, headers={"Server-Timing": timing}, media_type=JSON)


def failed_response(failed: Failed | None, since_ns: int) -> Response:
    """The answer to a turn that failed (None: one that ended without saying how)."""
    if failed is None:
        return error_response(500, "the turn ended without an answer", "server_error", since_ns)
    return error_response(failed.status, failed.message, failed.kind, since_ns, failed.phases_ms)


def sse_event(name: str, payload: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encoder.encode(payload) + b"\n\n"


def timing_comment(phases_ms: Mapping[str, float]) -> bytes:
    """The phases as an SSE comment: standard clients skip it, agentload reads it."""
    return b": server-timing " + server_timing(phases_ms).encode() + b"\n\n"


@dataclass(slots=True)
class OpenedTurn:
    """A turn pulled up to its first output: the events so far and the rest."""

    pending: list[TurnEvent]
    rest: AsyncIterator[TurnEvent]
    early_phases_ms: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> Failed | None:
        last = self.pending[-1] if self.pending else None
        return last if isinstance(last, Failed) else None

    async def all(self) -> AsyncIterator[TurnEvent]:
        for event in self.pending:
            yield event
        async for event in self.rest:
            yield event

    def stream_timing(self) -> str:
        known = server_timing(self.early_phases_ms)
        return f"{known}, {STREAM_MARKER}" if known else STREAM_MARKER


async def open_turn(events: AsyncIterator[TurnEvent]) -> OpenedTurn:
    """Pull events until the first token, tool call or end of the turn."""
    opened = OpenedTurn([], events)
    step_at: tuple[str, int] | None = None
    async for event in events:
        opened.pending.append(event)
        if isinstance(event, StepStarted):
            now = time.monotonic_ns()
            if step_at is not None and step_at[0] == "store_read":
                opened.early_phases_ms["store_read"] = (now - step_at[1]) / NS_PER_MS
            step_at = (event.step, now)
        elif isinstance(event, Token | ToolCall) or event.type in ("done", "failed"):
            break
    return opened


class TurnStream(StreamingResponse):
    """An SSE response that closes its turn however the stream ends."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        on_close: Callable[[], Awaitable[None]],
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(content, media_type=SSE, headers={"Cache-Control": "no-cache", **headers})
        self._on_close = on_close

    async def stream_response(self, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}
            )  # fmt: skip
            try:
                async for chunk in self.body_iterator:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except StreamCut:
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self._on_close()  # a client that hung up must not keep a batch slot
