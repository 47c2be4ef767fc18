"""A minimal OpenAI Responses endpoint: ``POST /v1/responses`` with ``previous_response_id``.

The server keeps the conversation: a request without ``previous_response_id`` opens a new
session in the context store, and each answer's ``id`` names that session
(``resp_<session id>_<n>``), so the next request continues it by naming the previous answer.
``input`` is the user's message, or OpenAI's list form: messages ``{role, content}`` whose
content is a string or a list of ``{type: input_text, text}`` parts; they are added to the
thread in order (``system`` and ``developer`` messages as instructions).
If the store has evicted the session the turn runs without its history and answers as
OpenAI's would — a normal answer that simply does not know what was said before (only a
client that checks the content notices; ``context_lost`` is deliberately not reported).

Non-streaming: ``{"id", "object": "response", "status", "model", "output": [{"type":
"message", "role": "assistant", "content": [{"type": "output_text", "text"}]}], "usage":
{"input_tokens", "output_tokens", "total_tokens"}, "previous_response_id"}``. Streaming
(``"stream": true``): SSE ``response.created``, ``response.output_text.delta`` ``{delta}``
per token, then ``response.completed`` ``{response}`` (or ``response.failed``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.profiles import serial_wait_ns
from agentload.reference_agent.responses import (
    TurnStream,
    error_response,
    failed_response,
    json_response,
    open_turn,
    sse_event,
    timing_comment,
)
from agentload.reference_agent.schemas import ERRORS
from agentload.reference_agent.services import services_of
from agentload.reference_agent.store import StoreError
from agentload.reference_agent.turn import Done, Failed, Token, TurnEvent, TurnRequest
from agentload.reference_agent.turns import (
    TurnState,
    events,
    run_turn,
    server_timing,
    unless_disconnected,
)

router = APIRouter(tags=["OpenAI"])
_RESPONSE_ID = re.compile(r"^resp_(?P<session>[A-Za-z0-9_-]{1,128})_[0-9a-f]{8}$")


_Text = Annotated[str, Field(max_length=1_000_000)]


class InputText(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["input_text", "output_text"]  # output_text: an earlier assistant answer
    text: _Text


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: _Text | Annotated[list[InputText], Field(min_length=1, max_length=1000)]

    def chat_message(self) -> ChatMessage:
        text = self.content if isinstance(self.content, str) else "".join(
            part.text for part in self.content
        )  # fmt: skip
        return ChatMessage(role="system" if self.role == "developer" else self.role, content=text)


class ResponseInput(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI's many optional fields are accepted

    model: str = Field("agentload-sim", max_length=256)
    input: (
        Annotated[str, Field(min_length=1, max_length=1_000_000)]
        | Annotated[list[InputMessage], Field(min_length=1, max_length=1000)]
    ) = Field(description="The user's message, or a list of messages.")
    instructions: str | None = Field(None, max_length=1_000_000)
    previous_response_id: str | None = Field(
        None, max_length=200, description="Continue the conversation this answer belongs to."
    )
    max_output_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stream: bool = False


@router.post(
    "/v1/responses",
    summary="Create a response (OpenAI Responses API, threaded by previous_response_id)",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def create_response(request: Request, body: ResponseInput) -> Response:
    received_ns = time.monotonic_ns()
    svc = services_of(request)
    if body.previous_response_id is None:
        try:
            session_id = await svc.store.create()
        except StoreError as exc:
            return error_response(503, f"context store: {exc}", "store_error", received_ns)
    else:
        match = _RESPONSE_ID.match(body.previous_response_id)
        if match is None:
            message = f"previous response {body.previous_response_id!r} not found"
            return error_response(404, message, "invalid_request_error", received_ns)
        session_id = match["session"]
    if isinstance(body.input, str):
        messages = [ChatMessage(role="user", content=body.input)]
    else:
        messages = [item.chat_message() for item in body.input]
    if body.instructions:
        messages.insert(0, ChatMessage(role="system", content=body.instructions))
    turn = TurnRequest(
        messages=tuple(messages),
        session_id=session_id,
        max_tokens=body.max_output_tokens,
        waited_ns=serial_wait_ns(request.scope),
    )
    answer_id = f"resp_{session_id}_{secrets.token_hex(4)}"
    head = {"id": answer_id, "model": body.model, "previous_response_id": body.previous_response_id}
    if not body.stream:
        state = await unless_disconnected(
            request, run_turn(svc.runner, turn, svc.metrics, TurnState())
        )
        if state is None:
            return Response(status_code=499)  # nobody is listening any more
        if not isinstance(state.end, Done):
            return failed_response(state.end, received_ns)
        reply = _completed(head, state.text, state.end)
        return json_response(reply, timing=server_timing(state.end.phases_ms))
    stream = events(svc.runner, turn, svc.metrics)
    opened = await unless_disconnected(request, open_turn(stream))
    if opened is None or opened.failed is not None:
        await stream.aclose()
        return failed_response(opened.failed if opened else None, received_ns)
    return TurnStream(
        _stream(head, opened.all()),
        on_close=stream.aclose,
        headers={"Server-Timing": opened.stream_timing()},
    )


async def _stream(head: dict[str, Any], turn: AsyncIterator[TurnEvent]) -> AsyncIterator[bytes]:
    created = {**head, "object": "response", "status": "in_progress"}
    yield sse_event("response.created", {"type": "response.created", "response": created})
    parts: list[str] = []
    async for event in turn:
        if isinstance(event, Token):
            parts.append(event.text)
            delta = {"type": "response.output_text.delta", "delta": event.text}
            yield sse_event("response.output_text.delta", delta)
        elif isinstance(event, Failed):
            failed = {**created, "status": "failed",
                      "error": {"code": event.kind, "message": event.message}}  # fmt: skip
            payload = {"type": "response.failed", "response": failed}
            yield sse_event("response.failed", payload) + timing_comment(event.phases_ms)
            return
        elif isinstance(event, Done):
            reply = _completed(head, "".join(parts), event)
            payload = {"type": "response.completed", "response": reply}
            yield sse_event("response.completed", payload) + timing_comment(event.phases_ms)
            return


def _completed(head: dict[str, Any], text: str, done: Done) -> dict[str, Any]:
    return {
        **head,
        "object": "response",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
        ],
        "usage": {
            "input_tokens": done.prompt_tokens,
            "output_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
        },
    }
