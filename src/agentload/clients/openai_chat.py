"""OpenAI-compatible chat client: streaming (SSE) and non-streaming.

TTFT is the arrival of the first chunk that carries *content* (a role-only chunk is not a
token). Every later content chunk adds one inter-token gap. Token counts come from ``usage``
when the server sends it; otherwise the number of content chunks stands in, flagged approximate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from agentload.clients.classify import rules_for
from agentload.clients.failures import BodyTooLarge, read_errors
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import Clock
from agentload.config.models import Target
from agentload.protocol.openai_chat import (
    ChatMessage,
    ProtocolError,
    Usage,
    parse_completion,
    parse_stream_chunk,
)
from agentload.protocol.server_timing import parse_server_timing
from agentload.protocol.sse import SSEDecoder
from agentload.records.record import CallResult, Outcome, Timing
from agentload.sessions.work import Work

_DRAIN_AFTER_DONE_S = 0.2


class OpenAIChatClient:
    def __init__(self, target: Target, *, max_connections: int) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._rules = rules_for(target)

    def call(self, work: Work, timing: Timing, clock: Clock) -> Coroutine[Any, Any, CallResult]:
        # The transport's coroutine itself, not one wrapped around it: a frame less per request.
        return self._transport.exchange(work, timing, clock, self)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        cap = self._transport.max_response_bytes
        if response.status != 200:
            return await error_result(response, clock, cap, self._rules)
        phases = _phases(response)
        if response.content_type == "text/event-stream":
            return await self._read_stream(response, work, timing, clock, cap, phases)
        body = await read_capped(response, cap)
        done_at = clock.now_ns()
        info = parse_completion(body)
        _remember_answer(work, info.content)
        # No TTFT for a non-streamed answer: its first token arrives with its last.
        if info.usage is None and info.content:
            return _ok(
                work,
                done_at,
                _estimated_usage(work, info.content),
                chunks=1,
                itl_ms=(),
                phases=phases,
                status=response.status,
                approx=True,
            )
        return _ok(
            work,
            done_at,
            info.usage,
            chunks=1 if info.content else 0,
            itl_ms=(),
            phases=phases,
            status=response.status,
        )

    async def _read_stream(
        self,
        response: Response,
        work: Work,
        timing: Timing,
        clock: Clock,
        cap: int,
        phases: dict[str, float],
    ) -> CallResult:
        stream = _Stream(timing, clock, cap, keep_answer=work.session is not None)
        content = response.content
        consume = getattr(content, "consume", None)
        if consume is not None:
            # The fast transport: events are decoded and timed inside the connection's
            # callback as their bytes arrive; this coroutine wakes once, at the end.
            consume(stream.feed)
            await content.consumed()  # type: ignore[attr-defined]
        else:
            async for data in content.iter_any():
                if stream.feed(data):
                    break
        done_at = clock.now_ns()
        if stream.saw_done:
            await _drain_briefly(response)
        for comment in stream.decoder.comments:
            # A stream's headers leave before its phases are known; servers send them last.
            name, _, value = comment.partition(" ")
            if name.lower() == "server-timing":
                phases.update(parse_server_timing(value))
        if not (stream.saw_done or stream.finished):
            raise ProtocolError("stream ended before a finish_reason or [DONE]")
        if stream.answer is not None:
            _remember_answer(work, "".join(stream.answer))
        return _ok(
            work,
            done_at,
            stream.usage,
            chunks=stream.chunks,
            itl_ms=tuple(stream.gaps_ms),
            phases=phases,
            status=response.status,
        )


class _Stream:
    """One streamed answer, fed bytes as they arrive: SSE events, token times, usage."""

    __slots__ = (
        "_cap",
        "_last_token_at",
        "_now_ns",
        "_single_data",
        "_size",
        "_timing",
        "answer",
        "chunks",
        "decoder",
        "finished",
        "gaps_ms",
        "saw_done",
        "usage",
    )

    def __init__(self, timing: Timing, clock: Clock, cap: int, *, keep_answer: bool) -> None:
        self._timing = timing
        self._cap = cap
        self._size = 0
        self._last_token_at: int | None = None
        self.decoder = SSEDecoder(keep_comments=True)
        # Bound once: feed runs per chunk, inside the connection's read callback.
        self._now_ns = clock.now_ns
        self._single_data = self.decoder.single_data
        self.chunks = 0
        self.gaps_ms: list[float] = []
        self.usage: Usage | None = None
        self.finished = False
        self.saw_done = False
        self.answer: list[str] | None = [] if keep_answer else None

    def feed(self, data: bytes) -> bool:
        """Take the bytes that just arrived; True once ``[DONE]`` was seen."""
        now = self._now_ns()  # every event in these bytes arrived now
        size = self._size = self._size + len(data)
        if size > self._cap:
            raise BodyTooLarge(f"response exceeded {self._cap} bytes")
        single = self._single_data(data)  # one whole event: the usual piece of a stream
        for text in (single,) if single is not None else self._texts(data):
            if text == "[DONE]":
                self.saw_done = True
                return True
            info = parse_stream_chunk(text)
            if info.usage is not None:
                self.usage = info.usage
            if info.finish_reason is not None:
                self.finished = True
            content = info.content
            if content:
                if self.answer is not None:
                    self.answer.append(content)
                self.chunks += 1
                last = self._last_token_at
                if last is None:
                    self._timing.first_token_at = now
                else:
                    self.gaps_ms.append((now - last) / 1e6)
                self._last_token_at = now
        return False

    def _texts(self, data: bytes) -> list[str]:
        """The data of the events these bytes complete, up to ``[DONE]``."""
        texts = []
        for event in self.decoder.feed(data):
            if event.event == "error":
                raise ProtocolError(f"error event: {event.data[:200]}")
            texts.append(event.data)
            if event.data == "[DONE]":
                break
        return texts


def _remember_answer(work: Work, content: str) -> None:
    """A session's next turn sends the conversation so far, this answer included."""
    if work.session is not None:
        work.session.history.append(ChatMessage(role="assistant", content=content))


async def _drain_briefly(response: Response) -> None:
    """Read the end of the body after ``[DONE]`` so the connection can be reused, but do not
    wait for a server or proxy that holds the stream open (the answer is already complete)."""
    if response.content.at_eof():
        return  # the usual case: the body's end came with [DONE]; no timer to arm and cancel
    try:
        async with asyncio.timeout(_DRAIN_AFTER_DONE_S):
            while not response.content.at_eof():
                if not await response.content.readany():
                    break
    except read_errors():
        response.close()  # do not return a connection in an unknown state to the pool


def _estimated_usage(work: Work, content: str) -> Usage:
    """Without ``usage``, about four characters per token (labelled approximate)."""
    output = max(1, round(len(content) / 4))
    prompt = work.input_tokens_est or 0
    return Usage(prompt_tokens=prompt, completion_tokens=output, total_tokens=prompt + output)


def _phases(response: Response) -> dict[str, float]:
    header = response.headers.get("Server-Timing")
    return parse_server_timing(header) if header else {}


def _ok(
    work: Work,
    done_at: int,
    usage: Usage | None,
    *,
    chunks: int,
    itl_ms: tuple[float, ...],
    phases: dict[str, float],
    status: int,
    approx: bool = False,
) -> CallResult:
    if usage is not None:
        return CallResult(
            done_at=done_at,
            outcome=Outcome.OK,
            http_status=status,
            chunks=chunks,
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            tokens_approx=approx,
            itl_ms=itl_ms,
            phases_ms=phases,
        )
    return CallResult(
        done_at=done_at,
        outcome=Outcome.OK,
        http_status=status,
        chunks=chunks,
        input_tokens=work.input_tokens_est,
        output_tokens=chunks,
        tokens_approx=True,
        itl_ms=itl_ms,
        phases_ms=phases,
    )
