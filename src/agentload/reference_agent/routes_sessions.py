"""The agent's session API: a conversation whose history the agent keeps in its store.

``POST /v1/sessions`` → ``{"id"}``; ``POST /v1/sessions/{id}/messages`` runs one turn (the
agent calls its tools itself) and answers with JSON, or — with ``"stream": true`` or
``Accept: text/event-stream`` — with SSE step events::

    event: step.started   data: {"step": "store_read" | "plan" | "inference" | "tool" | ...}
    event: tool.call      data: {"id", "name", "arguments"}
    event: tool.result    data: {"id", "name", "ok", "latency_ms", "content"}
    event: token          data: {"text"}
    event: done           data: {"finish_reason", "usage", "phases_ms", "context_lost"}
    event: error          data: {"error": {"type", "message", "code"}}

``DELETE /v1/sessions/{id}`` forgets it. An unknown or evicted id is not an error: the turn
runs without history and says ``context_lost``, as the store could have lost it anyway.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import Response

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.profiles import serial_wait_ns
from agentload.reference_agent.responses import (
    StreamCut,
    TurnStream,
    error_response,
    failed_response,
    json_response,
    open_turn,
    sse_event,
    timing_comment,
)
from agentload.reference_agent.schemas import (
    ERRORS,
    SESSION_ID_PATTERN,
    SessionCreated,
    SessionMessage,
    TurnInput,
    TurnReply,
)
from agentload.reference_agent.services import Services, services_of
from agentload.reference_agent.turn import (
    Done,
    Failed,
    StepStarted,
    Token,
    ToolCall,
    ToolResult,
    TurnEvent,
    TurnRequest,
)
from agentload.reference_agent.turns import (
    TurnState,
    call_json,
    done_json,
    error_json,
    events,
    reply_json,
    result_json,
    run_turn,
    server_timing,
    unless_disconnected,
)

router = APIRouter(prefix="/v1/sessions", tags=["Sessions"])
SessionId = Path(pattern=SESSION_ID_PATTERN, description="As returned by POST /v1/sessions.")


@router.post("", status_code=201, summary="Start a session", response_model=SessionCreated,
             responses={503: ERRORS[503]})  # fmt: skip
async def create_session(request: Request) -> Response:
    session_id = await services_of(request).store.create()
    return json_response(
        {"id": session_id}, status=201, headers={"Location": f"/v1/sessions/{session_id}"}
    )


@router.delete("/{session_id}", status_code=204, summary="End a session")
async def end_session(request: Request, session_id: str = SessionId) -> Response:
    await services_of(request).store.delete(session_id)
    return Response(status_code=204)


@router.post(
    "/{session_id}/messages",
    summary="Send a message; the agent answers (JSON, or SSE step events)",
    response_model=TurnReply,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def send_message(
    request: Request, body: SessionMessage, session_id: str = SessionId
) -> Response:
    received_ns = time.monotonic_ns()
    svc = services_of(request)
    turn, problem = turn_request(svc, body, session_id)
    if turn is None:
        return error_response(400, problem, "invalid_request_error", received_ns)
    turn = dataclasses.replace(turn, waited_ns=serial_wait_ns(request.scope))
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if not wants_stream:
        state = await unless_disconnected(
            request, run_turn(svc.runner, turn, svc.metrics, TurnState())
        )
        if state is None:
            return Response(status_code=499)  # nobody is listening any more
        if not isinstance(state.end, Done):
            return failed_response(state.end, received_ns)
        reply = {"session_id": session_id, **reply_json(state, state.end)}
        return json_response(reply, timing=server_timing(state.end.phases_ms))

    stream = events(svc.runner, turn, svc.metrics)
    opened = await unless_disconnected(request, open_turn(stream))
    if opened is None or opened.failed is not None:
        await stream.aclose()
        return failed_response(opened.failed if opened else None, received_ns)
    reset_after = svc.faults.draw_reset()

    async def cut() -> None:
        await svc.faults.reset(request.scope)

    return TurnStream(
        _step_events(opened.all(), reset_after, cut),
        on_close=stream.aclose,
        headers={"Server-Timing": opened.stream_timing()},
    )


def turn_request(
    svc: Services, body: TurnInput, session_id: str | None
) -> tuple[TurnRequest | None, str]:
    """The turn a session message or task asks for, or None and why not."""
    tools = svc.tool_names if body.tools is None else tuple(body.tools)
    unknown = [name for name in tools if name not in svc.tool_names]
    if unknown:
        known = ", ".join(svc.tool_names) or "none"
        return None, f"unknown tools: {', '.join(unknown)} (this agent has: {known})"
    turn = TurnRequest(
        messages=(ChatMessage(role="user", content=body.content),),
        session_id=session_id,
        max_tokens=body.max_tokens,
        tools=tools,
        execute_tools=True,
        seed=body.seed,
    )
    return turn, ""


async def _step_events(
    turn_events: AsyncIterator[TurnEvent],
    reset_after: int | None,
    cut: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    tokens = 0
    async for event in turn_events:
        if isinstance(event, Token):
            tokens += 1
            yield sse_event("token", {"text": event.text})
            if reset_after is not None and tokens >= reset_after:
                await cut()
                raise StreamCut
        elif isinstance(event, StepStarted):
            yield sse_event("step.started", {"step": event.step})
        elif isinstance(event, ToolCall):
            yield sse_event("tool.call", call_json(event))
        elif isinstance(event, ToolResult):
            yield sse_event("tool.result", result_json(event))
        elif isinstance(event, Failed):
            yield sse_event("error", {"error": error_json(event)}) + timing_comment(event.phases_ms)
            return
        else:
            if reset_after is not None:  # the answer ended before its cut: cut it now
                await cut()
                raise StreamCut
            yield sse_event("done", done_json(event)) + timing_comment(event.phases_ms)
            return
