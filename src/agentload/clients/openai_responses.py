"""OpenAI Responses client (``POST /v1/responses``): the server keeps the conversation.

Each answer's ``id`` becomes the session's thread, sent as ``previous_response_id`` with the
next turn (the builder puts it in the body). Streaming reads ``response.output_text.delta``
events (TTFT on the first, ITL between them) and ends at ``response.completed`` (usage) or
``response.failed`` / ``error`` (an error kind from the code: ``model_oom``, ...).
"""

from __future__ import annotations

from typing import Any

from agentload.clients.classify import AGENT_FAILURE_KINDS, rules_for
from agentload.clients.failures import BodyTooLarge
from agentload.clients.payloads import json_object
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import Clock
from agentload.config.models import Target
from agentload.protocol.openai_chat import ProtocolError
from agentload.protocol.sse import SSEDecoder
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work


class OpenAIResponsesClient:
    def __init__(self, target: Target, *, max_connections: int) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._rules = rules_for(target)

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        return await self._transport.exchange(work, timing, clock, self)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        cap = self._transport.max_response_bytes
        if response.status != 200:
            return await error_result(response, clock, cap, self._rules)
        if response.content_type != "text/event-stream":
            reply = _payload(await read_capped(response, cap))
            return _completed(work, reply, clock, response.status, 1, ())
        decoder = SSEDecoder()
        size = 0
        gaps_ms: list[float] = []
        last_token_at: int | None = None
        chunks = 0
        async for data in response.content.iter_any():
            now = clock.now_ns()
            size += len(data)
            if size > cap:
                raise BodyTooLarge(f"response exceeded {cap} bytes")
            for event in decoder.feed(data):
                payload = _payload(event.data.encode())
                kind = str(payload.get("type", event.event))
                if kind == "response.output_text.delta":
                    chunks += 1
                    if last_token_at is None:
                        timing.first_token_at = now
                    else:
                        gaps_ms.append((now - last_token_at) / 1e6)
                    last_token_at = now
                elif kind == "response.completed":
                    final = payload.get("response")
                    if not isinstance(final, dict):
                        raise ProtocolError("response.completed without a response")
                    return _completed(work, final, clock, response.status, chunks, tuple(gaps_ms))
                elif kind in ("response.failed", "error"):
                    return _failed(payload, clock, response.status)
        raise ProtocolError("stream ended before response.completed")


def _payload(body: bytes) -> dict[str, Any]:
    return json_object(body, "a Responses API payload")


def _text(reply: dict[str, Any]) -> str:
    parts: list[str] = []
    for item in reply.get("output") or ():
        if isinstance(item, dict) and item.get("type") == "message":
            for content in item.get("content") or ():
                if isinstance(content, dict) and isinstance(content.get("text"), str):
                    parts.append(content["text"])
    return "".join(parts)


def _completed(
    work: Work,
    reply: dict[str, Any],
    clock: Clock,
    status: int,
    chunks: int,
    itl_ms: tuple[float, ...],
) -> CallResult:
    answer_id = reply.get("id")
    if not isinstance(answer_id, str) or not answer_id:
        raise ProtocolError("a response without an id cannot be continued")
    if work.session is not None:
        work.session.thread_id = answer_id  # the next turn continues from this answer
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else None
    text = _text(reply)
    return CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.OK,
        http_status=status,
        chunks=chunks,
        input_tokens=usage.get("input_tokens") if usage else work.input_tokens_est,
        output_tokens=usage.get("output_tokens") if usage else max(chunks, len(text) // 4),
        tokens_approx=usage is None,
        itl_ms=itl_ms,
        answer=text,
    )


def _failed(payload: dict[str, Any], clock: Clock, status: int) -> CallResult:
    reply = payload.get("response") if isinstance(payload.get("response"), dict) else payload
    assert isinstance(reply, dict)
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = str(error.get("code") or error.get("type") or "")
    kind = AGENT_FAILURE_KINDS.get(code, ErrorKind.PROTOCOL_ERROR)
    return CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.ERROR,
        error_kind=kind,
        error_message=f"response failed: {code}: {str(error.get('message', ''))[:160]}",
        http_status=status,
    )
