"""Consuming one turn's events: the fold every endpoint shares, and its encodings.

Every endpoint runs a turn the same way: iterate ``TurnRunner.run``, feed each event to the
metrics, keep what the answer needs, and close the iterator however the request ends (a
closed iterator releases the engine slot). ``TurnState`` is that fold; the chat, session,
task and A2A layers only differ in how they encode it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request

from agentload.protocol.openai_chat import FunctionCall, ToolCallRef, Usage
from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.turn import (
    PHASES,
    Done,
    Failed,
    StepStarted,
    Token,
    ToolCall,
    ToolResult,
    TurnEvent,
    TurnRequest,
    TurnRunner,
)

T = TypeVar("T")


@dataclass(slots=True)
class TurnState:
    """What one turn has produced so far."""

    parts: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    step: str | None = None  # the step running now
    end: Done | Failed | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def tokens(self) -> int:
        return len(self.parts)

    def add(self, event: TurnEvent) -> None:
        if isinstance(event, Token):
            self.parts.append(event.text)
        elif isinstance(event, StepStarted):
            self.step = event.step
        elif isinstance(event, ToolCall):
            self.tool_calls.append(event)
        elif isinstance(event, ToolResult):
            self.tool_results.append(event)
        else:
            self.end = event


async def run_turn(
    runner: TurnRunner, turn: TurnRequest, metrics: AgentMetrics, state: TurnState
) -> TurnState:
    """Run a turn to its end, folding events into ``state`` (readable while it runs)."""
    async with aclosing(events(runner, turn, metrics)) as stream:
        async for event in stream:
            state.add(event)
    return state


async def events(
    runner: TurnRunner, turn: TurnRequest, metrics: AgentMetrics
) -> AsyncGenerator[TurnEvent, None]:
    """The runner's events, observed by the metrics; closing this closes the runner's."""
    stream = runner.run(turn)
    try:
        async for event in stream:
            metrics.observe(event)
            yield event
    finally:
        close = getattr(stream, "aclose", None)  # an async generator: release its slot now
        if close is not None:
            await close()


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """Await ``work``; None (and ``work`` cancelled) if the client hangs up first.

    Call only after the body has been read: the next ASGI message can only be the hang-up.
    """
    task = asyncio.ensure_future(work)

    async def hang_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(hang_up())
    try:
        await asyncio.wait([task, watcher], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watcher):
            if not pending.done():
                pending.cancel()
        await asyncio.wait([task, watcher])
    return task.result() if not task.cancelled() else None


def server_timing(phases_ms: Mapping[str, float]) -> str:
    """``Server-Timing`` value: the standard phases in order, then any others."""
    names = [p for p in PHASES if p in phases_ms] + [p for p in phases_ms if p not in PHASES]
    return ", ".join(f"{name};dur={phases_ms[name]:.3f}" for name in names)


def usage_of(done: Done) -> Usage:
    prompt, completion = done.prompt_tokens, done.completion_tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def tool_call_refs(calls: Sequence[ToolCall]) -> list[ToolCallRef]:
    """Tool calls in the OpenAI wire form (arguments as JSON text)."""
    return [
        ToolCallRef(id=c.call_id, function=FunctionCall(c.name, json.dumps(dict(c.arguments))))
        for c in calls
    ]


def error_json(failed: Failed) -> dict[str, Any]:
    return {"type": failed.kind, "message": failed.message, "code": None}


def call_json(call: ToolCall) -> dict[str, Any]:
    return {"id": call.call_id, "name": call.name, "arguments": dict(call.arguments)}


def result_json(result: ToolResult) -> dict[str, Any]:
    return {
        "id": result.call_id,
        "name": result.name,
        "ok": result.ok,
        "latency_ms": round(result.latency_ms, 3),
        "content": result.content,
    }


def done_json(done: Done) -> dict[str, Any]:
    """The summary a turn ends with (the session stream's ``done`` event)."""
    return {
        "finish_reason": done.finish_reason,
        "usage": {
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
        },
        "phases_ms": {name: round(ms, 3) for name, ms in done.phases_ms.items()},
        "context_lost": done.context_lost,
    }


def reply_json(state: TurnState, done: Done) -> dict[str, Any]:
    """A finished turn as the session and task APIs return it."""
    calls = state.tool_calls or list(done.tool_calls)
    return {
        "message": {"role": "assistant", "content": state.text},
        "tool_calls": [call_json(c) for c in calls],
        "tool_results": [result_json(r) for r in state.tool_results],
        **done_json(done),
    }
