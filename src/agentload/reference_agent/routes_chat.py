"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

The request is decoded with the shared wire types (``protocol.openai_chat``, msgspec), the
same ones the load side encodes with; the OpenAPI schema is generated from those types
(``schemas.py``). Tools follow OpenAI's semantics: the agent never runs them here
(``execute_tools=False``); when the planner calls one the answer has ``finish_reason:
"tool_calls"`` and ``message.tool_calls`` (streamed as one ``delta.tool_calls`` chunk), and
a conversation whose last message is a tool result gets an answer.

A stream is ``data:`` chunks in OpenAI's order — role, content tokens, tool calls, the
``finish_reason`` chunk, a usage chunk (``choices: []``) when ``stream_options.
include_usage`` — then the phases as the comment ``: server-timing ...`` and ``data:
[DONE]``. A turn that fails mid-stream ends with ``event: error``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from agentload.protocol.openai_chat import (
    SSE_DONE,
    ChatCompletionRequest,
    ProtocolError,
    decode_request,
    encode_completion,
    encode_error,
    encode_stream_chunk,
    sse_frame,
)
from agentload.reference_agent.profiles import serial_wait_ns
from agentload.reference_agent.responses import (
    JSON,
    StreamCut,
    TurnStream,
    error_response,
    failed_response,
    json_response,
    open_turn,
    timing_comment,
)
from agentload.reference_agent.schemas import CHAT_OPENAPI, MODELS_OPENAPI
from agentload.reference_agent.services import services_of
from agentload.reference_agent.turn import Done, Failed, Token, ToolCall, TurnEvent, TurnRequest
from agentload.reference_agent.turns import (
    TurnState,
    events,
    run_turn,
    server_timing,
    tool_call_refs,
    unless_disconnected,
    usage_of,
)

router = APIRouter(tags=["OpenAI"])


@router.get("/v1/models", summary="List the served model", openapi_extra=MODELS_OPENAPI)
async def models(request: Request) -> Response:
    name = services_of(request).engine.model_name
    entry = {"id": name, "object": "model", "created": 0, "owned_by": "agentload"}
    return json_response({"object": "list", "data": [entry]})


@router.post("/v1/chat/completions", summary="Create a chat completion", openapi_extra=CHAT_OPENAPI)
async def chat_completions(request: Request) -> Response:
    received_ns = time.monotonic_ns()
    try:
        chat = _validated(decode_request(await request.body()))
    except ProtocolError as exc:
        return error_response(400, str(exc), "invalid_request_error", received_ns)
    svc = services_of(request)
    offered = [t.function.name for t in chat.tools or ()] if chat.tool_choice != "none" else []
    turn = TurnRequest(
        messages=chat.messages,
        max_tokens=chat.output_limit,
        tools=tuple(offered),
        execute_tools=False,
        seed=chat.seed,
        waited_ns=serial_wait_ns(request.scope),
    )
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    model, created = svc.engine.model_name, int(time.time())
    if not chat.stream:
        state = await unless_disconnected(
            request, run_turn(svc.runner, turn, svc.metrics, TurnState())
        )
        if state is None:
            return Response(status_code=499)  # nobody is listening any more
        if isinstance(state.end, Failed) or state.end is None:
            return failed_response(state.end, received_ns)
        done = state.end
        calls = tool_call_refs(state.tool_calls or done.tool_calls)
        body = encode_completion(
            completion_id=completion_id, model=model, created=created, content=state.text,
            finish_reason=done.finish_reason, usage=usage_of(done), tool_calls=calls or None,
        )  # fmt: skip
        timing = server_timing(done.phases_ms)
        return Response(body, media_type=JSON, headers={"Server-Timing": timing})

    stream = events(svc.runner, turn, svc.metrics)
    opened = await unless_disconnected(request, open_turn(stream))
    if opened is None or opened.failed is not None:
        await stream.aclose()
        return failed_response(opened.failed if opened else None, received_ns)
    include_usage = chat.stream_options is not None and chat.stream_options.include_usage
    reset_after = svc.faults.draw_reset()

    async def cut() -> None:
        await svc.faults.reset(request.scope)

    def chunk(**fields: object) -> bytes:
        payload = encode_stream_chunk(
            completion_id=completion_id,
            model=model,
            created=created,
            **fields,  # type: ignore[arg-type]
        )
        return sse_frame(payload)

    body_stream = _sse_body(opened.all(), chunk, include_usage, reset_after, cut)
    return TurnStream(
        body_stream, on_close=stream.aclose, headers={"Server-Timing": opened.stream_timing()}
    )


async def _sse_body(
    turn_events: AsyncIterator[TurnEvent],
    chunk: Callable[..., bytes],
    include_usage: bool,
    reset_after: int | None,
    cut: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    frames = [chunk(role="assistant")]
    calls: list[ToolCall] = []
    tokens = 0
    async for event in turn_events:
        if isinstance(event, Token):
            tokens += 1
            frames.append(chunk(content=event.text))
            if reset_after is not None and tokens >= reset_after:
                yield b"".join(frames)
                await cut()
                raise StreamCut
        elif isinstance(event, ToolCall):
            calls.append(event)  # sent together at the end, indexed 0..n-1
            continue
        elif isinstance(event, Failed):
            frames.append(
                b"event: error\ndata: " + encode_error(event.message, event.kind) + b"\n\n"
            )
            yield b"".join(frames)
            return
        elif isinstance(event, Done):
            if reset_after is not None:  # the answer ended before its cut: cut it now
                yield b"".join(frames)
                await cut()
                raise StreamCut
            refs = tool_call_refs(calls or event.tool_calls)
            if refs:
                frames.append(chunk(tool_calls=refs))
            frames.append(chunk(finish_reason=event.finish_reason))
            if include_usage:
                frames.append(chunk(usage=usage_of(event)))
            frames.append(timing_comment(event.phases_ms))
            frames.append(SSE_DONE)
            yield b"".join(frames)
            return
        else:
            continue  # steps and tool results are not part of OpenAI's stream
        yield b"".join(frames)
        frames = []


def _validated(chat: ChatCompletionRequest) -> ChatCompletionRequest:
    if not chat.messages:
        raise ProtocolError("messages must not be empty")
    limit = chat.output_limit
    if limit is not None and limit < 1:
        raise ProtocolError(f"max_tokens must be at least 1, got {limit}")
    return chat
