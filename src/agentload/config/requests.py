"""The ``request`` section: one model per protocol (chosen by ``protocol``)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from agentload.config.fields import DurationS, Strict
from agentload.config.protocols import A2ARequest, ResponsesRequest
from agentload.config.sessions import (
    Distribution,
    check_dataset,
)


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatRequest(Strict):
    """An OpenAI-compatible chat completion; give ``messages`` or ``prompt_tokens``."""

    protocol: Literal["openai-chat"] = "openai-chat"
    path: str = Field("/v1/chat/completions", pattern=r"^/")
    model: str = "agentload-sim"
    messages: tuple[Message, ...] | None = Field(None, min_length=1)
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000, description="synthetic prompt")
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    stream: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)
    input_tokens: Distribution | None = Field(
        None, description="synthetic prompt whose length is drawn per request"
    )
    output_tokens: Distribution | None = Field(
        None, description="max_tokens drawn per request (instead of a fixed max_tokens)"
    )
    dataset: Annotated[str | None, AfterValidator(check_dataset)] = Field(
        None, min_length=1, description="JSONL conversations (ShareGPT-style); one per session"
    )
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> ChatRequest:
        given = [self.messages, self.prompt_tokens, self.input_tokens, self.dataset]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of messages, prompt_tokens, input_tokens or dataset")
        return self


def _check_json(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the body must be plain JSON ({exc}); quote dates and times") from None
    return value


class HttpRequest(Strict):
    """Any HTTP call; ``{{seq}}`` in the path or body is replaced by the request number."""

    protocol: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: str = Field("/", pattern=r"^/")
    body: Annotated[Any, AfterValidator(_check_json)] = None
    ok_status: tuple[int, ...] = Field((200, 201, 202, 204), min_length=1)
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )


class AgentSessionRequest(Strict):
    """A turn of an agent's session API (the reference agent's ``/v1/sessions``): the
    session is created on the first turn, each turn posts one user message, and the answer
    streams as step events (``token``, ``tool.call``, ``done`` with usage and phases)."""

    protocol: Literal["agent-session"] = "agent-session"
    path: str = Field("/v1/sessions", pattern=r"^/", description="the session collection")
    content: str | None = Field(None, min_length=1, description="the user's message each turn")
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000, description="synthetic message")
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    stream: bool = True
    tools: tuple[str, ...] | None = None
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> AgentSessionRequest:
        if (self.content is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of content or prompt_tokens")
        return self


class Polling(Strict):
    """How a client waits for an async job: first status request after ``initial``, then
    intervals growing by ``multiplier`` up to ``max_interval``, each ±``jitter``; a
    ``Retry-After`` from the server wins; no result within ``max_wait`` is job_timeout."""

    initial: DurationS = Field(0.05, ge=0)
    multiplier: float = Field(2.0, ge=1, le=10)
    max_interval: DurationS = Field(2.0, gt=0)
    jitter: float = Field(0.2, ge=0, lt=1)
    max_wait: DurationS = Field(30.0, gt=0)


class AgentTaskRequest(Strict):
    """A job on an agent's async task API (the reference agent's ``/v1/tasks``): submit,
    then poll the ``Location`` until the job succeeds, fails or the wait runs out."""

    protocol: Literal["agent-task"] = "agent-task"
    path: str = Field("/v1/tasks", pattern=r"^/")
    content: str | None = Field(None, min_length=1)
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000)
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    tools: tuple[str, ...] | None = None
    poll: Polling = Polling()
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> AgentTaskRequest:
        if (self.content is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of content or prompt_tokens")
        return self


Request = Annotated[
    ChatRequest
    | HttpRequest
    | AgentSessionRequest
    | AgentTaskRequest
    | ResponsesRequest
    | A2ARequest,
    Field(discriminator="protocol"),
]
