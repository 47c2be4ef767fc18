"""``AgentRunner``: one agent turn as a stream of ``TurnEvent``s (implements ``TurnRunner``).

    store_read → plan → inference ─┬─────────────────────────────────────────→ store_write → done
                                   └→ tool.call → tool → tool.result → inference ─┘

Session turns (``session_id`` set) load and save the context; stateless turns (the OpenAI
endpoint, where the client sends the whole history) skip both store steps. When the plan
calls a tool, a short inference produces the call (its tokens are the call, not text, so
they are counted but not streamed); with ``execute_tools`` False the turn ends there with
finish reason ``tool_calls``. The final inference streams its tokens; the planner's prefix
replaces the first token texts one word per token, so the engine alone decides how many
tokens an answer has (a prefix longer than the answer is finished on the last token, so a
recalled fact is always whole).

Usage sums every inference of the turn (as agent frameworks bill a run); ``phases_ms`` sums
each phase over the turn and always holds all of ``turn.PHASES``. Hooks, for ``/metrics``:
``on_phase(name, ms)`` after every timed step (``store_read``/``store_write`` per
operation, ``queue``/``prefill``/``decode`` per inference, ``tool`` per call, ``total`` per
turn) and ``on_tool(name, ms, ok)`` per tool call. An engine error ends the turn with
``Failed`` (kind: the generation's ``error_kind``, e.g. ``model_oom``; status 503); a store
error with ``Failed("store_error", ..., 503)``; a fatal tool failure
(``faults.tool_error_rate``) with ``Failed("tool_error", ..., 502)`` after its ``tool.result``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

from agentload.clock import NS_PER_MS
from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.inference import (
    SERVER_ERROR,
    Generation,
    GenerationRequest,
    InferenceEngine,
)
from agentload.reference_agent.planner import PlannedCall, learn_facts, plan_turn
from agentload.reference_agent.settings import AgentSettings
from agentload.reference_agent.store import ContextStore, SessionContext, StoreError
from agentload.reference_agent.text import (
    CHARS_PER_TOKEN,
    estimate_prompt_tokens,
    prompt_fingerprint,
)
from agentload.reference_agent.tools import ToolBox
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
)

PhaseHook = Callable[[str, float], None]
ToolHook = Callable[[str, float, bool], None]
T = TypeVar("T")
_TOOL_DEFINITION_TOKENS = 12  # JSON schema boilerplate of one tool in the prompt


class EngineFailed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AgentRunner:
    def __init__(
        self,
        settings: AgentSettings,
        engine: InferenceEngine,
        store: ContextStore,
        tools: ToolBox,
        *,
        on_phase: PhaseHook | None = None,
        on_tool: ToolHook | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.tools = tools
        self._on_phase = on_phase
        self._on_tool = on_tool

    async def create_session(self) -> str:
        return await self.store.create()

    async def end_session(self, session_id: str) -> None:
        await self.store.delete(session_id)

    async def run(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events, ending with one ``Done`` or ``Failed``. ``aclose()`` (or
        ``contextlib.aclosing``) before the end cancels the engine generation in progress."""
        turn = _Turn(self._on_phase, waited_ns=request.waited_ns)
        session_id = request.session_id
        try:
            context, lost = SessionContext(), False
            if session_id is not None:
                yield StepStarted("store_read")
                loaded = await turn.timed("store_read", self.store.load(session_id))
                context, lost = (loaded, False) if loaded is not None else (context, True)
            yield StepStarted("plan")
            history = [*context.messages, *request.messages]
            facts = {**context.facts, **learn_facts(request.messages)}
            plan = plan_turn(history, facts, tools=request.tools, context_lost=lost)
            seed = request.seed if request.seed is not None else prompt_fingerprint(history)
            yield StepStarted("inference")
            returned: tuple[ToolCall, ...] = ()  # calls left to the client
            if plan.tool_call is not None:
                call = _tool_call(plan.tool_call, seed)
                call_tokens = max(1, len(_describe(call)) // CHARS_PER_TOKEN)
                await turn.drain(self._submit(turn, history, request, call_tokens, seed))
                yield call
                history.append(ChatMessage("assistant", _describe(call)))
                if not request.execute_tools:
                    returned = (call,)
                else:
                    yield StepStarted("tool")
                    result, fatal = await self._call_tool(turn, call, request.seed)
                    yield result
                    if fatal:  # faults.tool_error_rate: the agent cannot answer without it
                        yield turn.failed("tool_error", result.content, status=502)
                        return
                    history.append(ChatMessage("tool", result.content, name=call.name))
                    plan = plan_turn(history, facts, tools=request.tools, context_lost=lost)
                    yield StepStarted("inference")
            if not returned:
                generation = self._submit(turn, history, request, request.max_tokens, seed + 1)
                words = _words(plan.prefix)
                answer: list[str] = []
                while tokens := await generation.next_tokens():
                    for text in _with_prefix(tokens, words, generation.done_ns is not None):
                        answer.append(text)
                        yield Token(text)
                turn.finished(generation)
                history.append(ChatMessage("assistant", "".join(answer)))
            if session_id is not None:
                yield StepStarted("store_write")
                saved = SessionContext(messages=tuple(history), facts=facts)
                await turn.timed("store_write", self.store.save(session_id, saved))
            finish = "tool_calls" if returned else turn.finish_reason
            yield turn.done(finish, context_lost=lost, tool_calls=returned)
        except StoreError as exc:
            yield turn.failed("store_error", f"context store: {exc}")
        except EngineFailed as exc:
            yield turn.failed(exc.kind, str(exc))
        finally:
            # Also runs when the consumer closes the stream early: free the batch slot.
            if turn.generation is not None and not turn.generation.finished:
                self.engine.cancel(turn.generation)

    def _submit(
        self,
        turn: _Turn,
        history: Sequence[ChatMessage],
        request: TurnRequest,
        max_tokens: int | None,
        seed: int,
    ) -> Generation:
        tools = sum(_tool_tokens(self.tools, name) for name in request.tools)
        prompt_tokens = estimate_prompt_tokens(history) + tools
        turn.generation = self.engine.submit(
            GenerationRequest(prompt_tokens=prompt_tokens, max_tokens=max_tokens, seed=seed)
        )
        return turn.generation

    async def _call_tool(
        self, turn: _Turn, call: ToolCall, seed: int | None
    ) -> tuple[ToolResult, bool]:
        started_ns = time.monotonic_ns()
        outcome = await self.tools.run(call.name, call.arguments, seed=seed)
        latency_ms = (time.monotonic_ns() - started_ns) / NS_PER_MS
        turn.add("tool", latency_ms)
        if self._on_tool is not None:
            self._on_tool(call.name, latency_ms, outcome.ok)
        result = ToolResult(call.call_id, call.name, outcome.ok, latency_ms, outcome.content)
        return result, outcome.fatal


class _Turn:
    """One turn's bookkeeping: phases, usage, and the generation to cancel on exit."""

    def __init__(self, on_phase: PhaseHook | None, *, waited_ns: int = 0) -> None:
        self.started_ns = time.monotonic_ns() - waited_ns
        self.phases_ms = dict.fromkeys(PHASES, 0.0)
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self.generation: Generation | None = None
        self._on_phase = on_phase
        if waited_ns > 0:
            self.add("queue", waited_ns / NS_PER_MS)

    def add(self, phase: str, ms: float) -> None:
        self.phases_ms[phase] += ms
        if self._on_phase is not None:
            self._on_phase(phase, ms)

    async def timed(self, phase: str, pending: Awaitable[T]) -> T:
        started_ns = time.monotonic_ns()
        try:
            return await pending
        finally:
            self.add(phase, (time.monotonic_ns() - started_ns) / NS_PER_MS)

    async def drain(self, generation: Generation) -> None:
        while await generation.next_tokens():
            pass
        self.finished(generation)

    def finished(self, generation: Generation) -> None:
        """Account for an ended generation; raise ``EngineFailed`` if it failed."""
        for phase, ms in generation.phases_ms().items():
            if phase != "total":
                self.add(phase, ms)
        self.prompt_tokens += generation.prompt_tokens
        self.completion_tokens += generation.generated
        if generation.error is not None:
            raise EngineFailed(generation.error_kind or SERVER_ERROR, generation.error)
        self.finish_reason = generation.finish_reason

    def _total(self) -> dict[str, float]:
        measured_ms = (time.monotonic_ns() - self.started_ns) / NS_PER_MS
        # The engine stamps steps on its own schedule, which a timer that fires a little
        # early can put ahead of this clock; the whole is never less than its parts.
        parts_ms = sum(ms for phase, ms in self.phases_ms.items() if phase != "total")
        self.add("total", max(measured_ms, parts_ms))
        return self.phases_ms

    def done(self, finish: str, *, context_lost: bool, tool_calls: Sequence[ToolCall]) -> Done:
        return Done(
            finish_reason=finish,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            phases_ms=self._total(),
            context_lost=context_lost,
            tool_calls=tuple(tool_calls),
        )

    def failed(self, kind: str, message: str, *, status: int = 503) -> Failed:
        return Failed(kind, message, status=status, phases_ms=self._total())


def _tool_call(call: PlannedCall, seed: int) -> ToolCall:
    return ToolCall(f"call_{seed & 0xFFFFFFFF:08x}", call.name, dict(call.arguments))


def _describe(call: ToolCall) -> str:
    """How a tool call sits in the history (and how many tokens producing it costs)."""
    args = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
    return f"[tool call {call.call_id}] {call.name}({args})"


def _tool_tokens(tools: ToolBox, name: str) -> int:
    spec = next((s for s in tools.specs if s.name == name), None)
    text = name + (spec.description if spec is not None else "")
    return _TOOL_DEFINITION_TOKENS + len(text) // CHARS_PER_TOKEN


def _words(prefix: str) -> list[str]:
    """The prefix as token texts: the first word bare (it starts the answer), then " word"."""
    words = prefix.split()
    return [word if i == 0 else " " + word for i, word in enumerate(words)][::-1]


def _with_prefix(tokens: list[str], words: list[str], last_batch: bool) -> list[str]:
    """Engine token texts with the prefix's words (a reversed stack) put in their place."""
    texts = [words.pop() if words else token for token in tokens]
    if last_batch and words:
        texts[-1] += "".join(reversed(words))
        words.clear()
    return texts
