"""What one agent turn produces, as a stream of events, and the seam that produces it.

The HTTP layer (chat, session, task and A2A endpoints) only ever consumes ``TurnEvent``s from
a ``TurnRunner``; the runner (``agent.py``) does the work: load context → plan → inference →
tools → final inference → save context. Phase names are the ``Server-Timing`` names.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agentload.protocol.openai_chat import ChatMessage

PHASES = ("store_read", "queue", "prefill", "decode", "tool", "store_write", "total")


@dataclass(frozen=True, slots=True)
class StepStarted:
    step: Literal["store_read", "plan", "inference", "tool", "store_write"]
    type: Literal["step.started"] = "step.started"


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    type: Literal["tool.call"] = "tool.call"


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    ok: bool
    latency_ms: float
    content: str
    type: Literal["tool.result"] = "tool.result"


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    type: Literal["token"] = "token"


@dataclass(frozen=True, slots=True)
class Done:
    finish_reason: str  # stop | length | tool_calls
    prompt_tokens: int
    completion_tokens: int
    phases_ms: Mapping[str, float]  # PHASES, each summed over the turn
    context_lost: bool = False  # the session's history was evicted from the store
    tool_calls: Sequence[ToolCall] = field(default_factory=tuple)  # for finish "tool_calls"
    type: Literal["done"] = "done"


@dataclass(frozen=True, slots=True)
class Failed:
    """The turn could not complete: ``kind`` is model_oom, tool_error, store_error, ..."""

    kind: str
    message: str
    status: int  # the HTTP status an endpoint should answer with
    phases_ms: Mapping[str, float] = field(default_factory=dict)
    type: Literal["failed"] = "failed"


TurnEvent = StepStarted | ToolCall | ToolResult | Token | Done | Failed


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One turn. ``session_id`` None: stateless (the OpenAI endpoint: the client sends the
    whole history). ``execute_tools`` False: tool calls are returned to the client (OpenAI
    semantics, finish_reason ``tool_calls``) instead of run by the agent."""

    messages: Sequence[ChatMessage]
    session_id: str | None = None
    max_tokens: int | None = None
    tools: Sequence[str] = ()  # names the model may call; empty: answer directly
    execute_tools: bool = True
    seed: int | None = None
    # Time the request waited before the agent took it up (the baseline profile's
    # one-at-a-time lock): reported as ``queue``, since a client cannot tell it apart.
    waited_ns: int = 0


class TurnRunner(Protocol):
    def run(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """Events in order; always ends with exactly one ``Done`` or ``Failed``. Closing the
        generator early (``aclose``: the client went away) releases the engine slot."""
        ...
