"""Request and response shapes of the agent's own APIs, as served in ``/openapi.json``.

Session and task bodies are pydantic models that FastAPI validates (a bad body is a 400
with an OpenAI-style error, see ``app.py``). Responses are encoded by hand for speed; their
models here only document them. The chat endpoint's schema is generated from the shared
msgspec wire types, so the documented body and the decoded one cannot disagree.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from agentload.protocol.openai_chat import ChatCompletionRequest

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
_MAX_SEED = 2**63 - 1
_MAX_TEXT = 1_000_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnInput(_Body):
    content: str = Field(min_length=1, max_length=_MAX_TEXT, description="The user's message.")
    max_tokens: int | None = Field(None, ge=1, le=1_000_000, description="Answer length cap.")
    tools: list[str] | None = Field(
        None, max_length=64, description="Tools the agent may call; omitted: all of them."
    )
    seed: int | None = Field(None, ge=0, le=_MAX_SEED, description="Fixes the generated text.")


class SessionMessage(TurnInput):
    stream: bool = Field(False, description="Answer as an SSE stream of step events.")


class TaskInput(TurnInput):
    session_id: str | None = Field(
        None, pattern=SESSION_ID_PATTERN, description="Run the turn inside this session."
    )


class SessionCreated(BaseModel):
    id: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ToolCallOut(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any]


class ToolResultOut(BaseModel):
    id: str
    name: str
    ok: bool
    latency_ms: float
    content: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class TurnReply(BaseModel):
    message: AssistantMessage
    tool_calls: list[ToolCallOut]
    tool_results: list[ToolResultOut]
    finish_reason: str
    usage: UsageOut
    phases_ms: dict[str, float] = Field(description="store_read, queue, prefill, decode, ...")
    context_lost: bool = Field(description="The session's history had been evicted.")


class TaskProgress(BaseModel):
    tokens: int = Field(description="Answer tokens produced so far.")
    step: str | None = Field(description="The step running now (or last run).")


TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TaskView(BaseModel):
    id: str
    status: TaskStatus
    created_at: float = Field(description="Unix time, seconds.")
    started_at: float | None
    finished_at: float | None
    progress: TaskProgress
    result: TurnReply | None
    error: ErrorDetail | None
    phases_ms: dict[str, float] | None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request"},
    429: {"model": ErrorResponse, "description": "Rate limited (Retry-After says when)"},
    503: {"model": ErrorResponse, "description": "Model out of memory, store or engine down"},
}

_COMPONENTS_REF = "#/components/schemas/{name}"
(_chat_ref,), CHAT_COMPONENTS = msgspec.json.schema_components(
    [ChatCompletionRequest], ref_template=_COMPONENTS_REF
)
CHAT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _chat_ref}},
    },
    "responses": {
        "200": {
            "description": "A chat.completion, or with stream: true an SSE stream of "
            "chat.completion.chunk events ending with data: [DONE]",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        **{
            str(code): {
                "description": spec["description"],
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                },
            }
            for code, spec in ERRORS.items()
        },
    },
}
MODELS_OPENAPI: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "The one model this agent serves",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
}
