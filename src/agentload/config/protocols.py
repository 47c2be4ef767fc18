"""Request models of the threaded protocols: OpenAI Responses and A2A (JSON-RPC)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from agentload.config.fields import Strict
from agentload.units import parse_duration_s

_DurationS = Annotated[float, BeforeValidator(parse_duration_s)]


class ResponsesRequest(Strict):
    """OpenAI Responses (``POST /v1/responses``): each turn sends only its new input and
    threads the conversation with ``previous_response_id``; the server keeps the history."""

    protocol: Literal["openai-responses"] = "openai-responses"
    path: str = Field("/v1/responses", pattern=r"^/")
    model: str = "agentload-sim"
    input: str | None = Field(None, min_length=1, description="the user's message each turn")
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000, description="synthetic message")
    max_tokens: int = Field(128, gt=0, le=1_000_000, description="max_output_tokens")
    stream: bool = True
    sla: _DurationS | None = Field(None, gt=0, description="slower answers are marked slow")

    @model_validator(mode="after")
    def _one_prompt(self) -> ResponsesRequest:
        if (self.input is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of input or prompt_tokens")
        return self


class A2ARequest(Strict):
    """An A2A message (JSON-RPC 2.0): ``SendMessage``, or ``SendStreamingMessage`` with
    ``stream``; a session's turns share one ``contextId``. With ``get``, the task is read
    back with ``GetTask`` after it completes (its time counts in the turn)."""

    protocol: Literal["a2a"] = "a2a"
    path: str = Field("/a2a", pattern=r"^/", description="the agent's JSON-RPC endpoint")
    content: str | None = Field(None, min_length=1)
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000)
    stream: bool = True
    get: bool = False
    sla: _DurationS | None = Field(None, gt=0, description="slower answers are marked slow")

    @model_validator(mode="after")
    def _one_prompt(self) -> A2ARequest:
        if (self.content is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of content or prompt_tokens")
        return self
