"""AgentRunner: event order and phases of each kind of turn, on the real simulated engine.

The engine runs at speed 100 and tools take 1-2 ms, so a turn takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.agent import AgentRunner, PhaseHook, ToolHook
from agentload.reference_agent.engine import EngineConfig, SimulatedEngine
from agentload.reference_agent.inference import MODEL_OOM, Generation, GenerationRequest
from agentload.reference_agent.planner import FORGOT
from agentload.reference_agent.settings import AgentSettings, ToolSettings
from agentload.reference_agent.store import MemoryStore, SessionContext, StoreError
from agentload.reference_agent.text import estimate_prompt_tokens
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

T = TypeVar("T")
TOOLS = ("search", "lookup_order", "calculator")
ANSWER_TOKENS = 8


def settings(error_rate: float = 0.0) -> AgentSettings:
    fast = [ToolSettings(name=n, latency_ms_median=2, latency_sigma=0) for n in TOOLS]
    fast[0] = fast[0].model_copy(update={"error_rate": error_rate})
    return AgentSettings(tools=tuple(fast))


class RecordingEngine(SimulatedEngine):
    """The real engine, remembering its generations; prompts over ``oom_over`` fail."""

    def __init__(self, oom_over: int | None = None) -> None:
        super().__init__(EngineConfig(speed=100, default_max_tokens=ANSWER_TOKENS))
        self.generations: list[Generation] = []
        self.oom_over = oom_over

    def submit(self, request: GenerationRequest) -> Generation:
        generation = super().submit(request)
        if self.oom_over is not None and request.prompt_tokens > self.oom_over:
            generation.cancelled = True  # the scheduler drops it, as it would a rejected one
            generation.fail("the prompt does not fit the KV cache", MODEL_OOM)
        self.generations.append(generation)
        return generation


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=10)

    return asyncio.run(bounded())


@asynccontextmanager
async def agent(
    store: MemoryStore | None = None,
    engine: RecordingEngine | None = None,
    on_phase: PhaseHook | None = None,
    on_tool: ToolHook | None = None,
) -> AsyncIterator[AgentRunner]:
    config = settings()
    store = MemoryStore(100) if store is None else store
    async with engine or RecordingEngine() as started:
        tools = ToolBox.from_settings(config)
        yield AgentRunner(config, started, store, tools, on_phase=on_phase, on_tool=on_tool)


async def turn(runner: AgentRunner, text: str, **kw: Any) -> list[TurnEvent]:
    request = TurnRequest(messages=[ChatMessage("user", text)], **kw)
    return [event async for event in runner.run(request)]


def shape(events: list[TurnEvent]) -> list[str]:
    """Event types, steps by name, runs of tokens as one "token*"."""
    names: list[str] = []
    for event in events:
        name = f"step:{event.step}" if isinstance(event, StepStarted) else event.type
        if not (name == "token" and names and names[-1] == "token*"):
            names.append("token*" if name == "token" else name)
    return names


def answer(events: list[TurnEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, Token))


def done(events: list[TurnEvent]) -> Done:
    assert isinstance(events[-1], Done), events[-1]
    return events[-1]


def test_a_stateless_answer_streams_tokens_and_reports_usage_and_phases() -> None:
    async def scenario() -> list[TurnEvent]:
        async with agent() as runner:
            return await turn(runner, "hello there", tools=TOOLS)

    events = run(scenario)
    assert shape(events) == ["step:plan", "step:inference", "token*", "done"]
    result = done(events)
    assert sum(isinstance(e, Token) for e in events) == result.completion_tokens == ANSWER_TOKENS
    prompt = estimate_prompt_tokens([ChatMessage("user", "hello there")])
    assert result.prompt_tokens > prompt  # plus the three tool definitions
    assert (result.finish_reason, result.context_lost, result.tool_calls) == ("stop", False, ())
    assert list(result.phases_ms) == list(PHASES)
    assert result.phases_ms["store_read"] == result.phases_ms["tool"] == 0
    assert result.phases_ms["decode"] > 0
    assert result.phases_ms["total"] >= result.phases_ms["queue"] + result.phases_ms["decode"]


def test_max_tokens_sets_the_answer_length() -> None:
    async def scenario() -> list[TurnEvent]:
        async with agent() as runner:
            return await turn(runner, "hello", max_tokens=3)

    events = run(scenario)
    assert (done(events).completion_tokens, done(events).finish_reason) == (3, "length")


def test_a_session_turn_reads_and_writes_the_store() -> None:
    async def scenario() -> tuple[list[TurnEvent], SessionContext | None]:
        store = MemoryStore(10, latency_ms=5)
        async with agent(store) as runner:
            session = await runner.create_session()
            events = await turn(runner, "hello", session_id=session)
            return events, await store.load(session)

    events, saved = run(scenario)
    assert shape(events) == [
        "step:store_read", "step:plan", "step:inference", "token*", "step:store_write", "done"
    ]  # fmt: skip
    phases = done(events).phases_ms
    assert phases["store_read"] >= 5 and phases["store_write"] >= 5
    assert saved is not None
    assert [(m.role, m.content) for m in saved.messages] == [
        ("user", "hello"), ("assistant", answer(events))
    ]  # fmt: skip


def test_an_executed_tool_call_is_followed_by_a_final_answer() -> None:
    calls: list[tuple[str, float, bool]] = []
    phases: list[str] = []

    async def scenario() -> tuple[list[TurnEvent], SessionContext | None]:
        store = MemoryStore(10)

        def on_phase(name: str, ms: float) -> None:
            phases.append(name)

        def on_tool(name: str, ms: float, ok: bool) -> None:
            calls.append((name, ms, ok))

        async with agent(store, on_phase=on_phase, on_tool=on_tool) as runner:
            session = await runner.create_session()
            events = await turn(runner, "search for cats", session_id=session, tools=TOOLS)
            return events, await store.load(session)

    events, saved = run(scenario)
    assert shape(events) == [
        "step:store_read", "step:plan", "step:inference", "tool.call", "step:tool",
        "tool.result", "step:inference", "token*", "step:store_write", "done",
    ]  # fmt: skip
    call = next(e for e in events if isinstance(e, ToolCall))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (call.name, call.arguments) == ("search", {"query": "cats"})
    assert (result.call_id, result.ok) == (call.call_id, True)
    assert result.latency_ms >= 2
    assert answer(events).startswith("Based on search: 1. cats: result 1 (https://example.com/")
    final = done(events)
    assert final.completion_tokens > ANSWER_TOKENS  # the call's tokens count too
    assert final.phases_ms["tool"] == result.latency_ms
    assert final.tool_calls == ()
    assert saved is not None and [m.role for m in saved.messages] == [
        "user", "assistant", "tool", "assistant"
    ]  # fmt: skip
    assert calls == [("search", result.latency_ms, True)]
    assert phases.count("queue") == 2 and phases.count("tool") == 1
    assert {"store_read", "prefill", "decode", "store_write"} <= set(phases)
    assert phases[-1] == "total"


def test_a_failing_tool_is_reported_and_answered_anyway() -> None:
    async def scenario() -> list[TurnEvent]:
        config = settings(error_rate=1.0)
        async with RecordingEngine() as engine:
            runner = AgentRunner(config, engine, MemoryStore(10), ToolBox.from_settings(config))
            return await turn(runner, "find the weather", tools=TOOLS)

    events = run(scenario)
    result = next(e for e in events if isinstance(e, ToolResult))
    assert not result.ok and result.content.startswith("error: ")
    assert answer(events).startswith("The search tool failed")
    assert done(events).finish_reason == "stop"


def test_a_tool_call_is_returned_to_the_client_when_it_runs_the_tools() -> None:
    async def scenario() -> list[TurnEvent]:
        async with agent() as runner:
            return await turn(runner, "look up order #4711", tools=TOOLS, execute_tools=False)

    events = run(scenario)
    assert shape(events) == ["step:plan", "step:inference", "tool.call", "done"]
    call = events[2]
    assert isinstance(call, ToolCall) and call.arguments == {"order_id": "4711"}
    result = done(events)
    assert (result.finish_reason, result.tool_calls) == ("tool_calls", (call,))
    assert result.completion_tokens > 0 and result.phases_ms["tool"] == 0


def test_the_client_s_tool_result_is_answered_without_calling_again() -> None:
    async def scenario() -> list[TurnEvent]:
        async with agent() as runner:
            messages = [
                ChatMessage("user", "look up order #4711"),
                ChatMessage("assistant", ""),
                ChatMessage("tool", "order #4711: shipped", name="lookup_order"),
            ]
            request = TurnRequest(messages=messages, tools=TOOLS, execute_tools=False)
            return [e async for e in runner.run(request)]

    events = run(scenario)
    assert shape(events) == ["step:plan", "step:inference", "token*", "done"]
    assert answer(events).startswith("Based on lookup_order: order #4711: shipped")


def test_an_engine_error_fails_the_turn_with_its_kind() -> None:
    async def scenario() -> list[TurnEvent]:
        async with agent(engine=RecordingEngine(oom_over=1)) as runner:
            return await turn(runner, "a prompt far too long for the tiny KV budget")

    events = run(scenario)
    assert shape(events) == ["step:plan", "step:inference", "failed"]
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert (failed.kind, failed.status) == ("model_oom", 503)
    assert "KV cache" in failed.message and failed.phases_ms["total"] > 0


def test_a_store_error_fails_the_turn() -> None:
    class BrokenStore(MemoryStore):
        async def load(self, session_id: str) -> SessionContext | None:
            raise StoreError("connection refused")

    async def scenario() -> list[TurnEvent]:
        async with agent(BrokenStore(10)) as runner:
            return await turn(runner, "hello", session_id="sess_1")

    events = run(scenario)
    assert shape(events) == ["step:store_read", "failed"]
    assert isinstance(events[-1], Failed) and events[-1].kind == "store_error"


def test_closing_the_stream_early_cancels_the_generation() -> None:
    async def scenario() -> tuple[Generation, int]:
        engine = RecordingEngine()
        async with agent(engine=engine) as runner:
            stream = runner.run(TurnRequest(messages=[ChatMessage("user", "hi")], max_tokens=500))
            async for event in stream:
                if isinstance(event, Token):
                    break
            await stream.aclose()
            await asyncio.sleep(0.01)  # a few engine steps
            return engine.generations[-1], engine.gauges().running

    generation, running = run(scenario)
    assert generation.cancelled and generation.generated < 500
    assert running == 0


def test_facts_are_recalled_in_later_turns_of_the_session() -> None:
    async def scenario() -> list[list[TurnEvent]]:
        async with agent() as runner:
            session = await runner.create_session()
            return [
                await turn(runner, text, session_id=session, max_tokens=2)
                for text in ("Hi, my name is Ada.", "Remember that the code is 1234.",
                             "What is my name?", "and what is the code?")
            ]  # fmt: skip

    *_, name, code = run(scenario)
    # The prefix is whole even though the answer is only two tokens long.
    assert answer(name).startswith("Your name is Ada.")
    assert answer(code).startswith("The code is 1234.")
    assert done(name).completion_tokens == 2 and not done(name).context_lost


def test_an_evicted_session_reports_lost_context_and_forgets_its_facts() -> None:
    async def scenario() -> tuple[list[TurnEvent], list[TurnEvent], SessionContext | None]:
        store = MemoryStore(1)
        async with agent(store) as runner:
            first = await runner.create_session()
            await turn(runner, "my name is Ada", session_id=first)
            await runner.create_session()  # capacity 1: evicts the first session
            lost = await turn(runner, "what is my name?", session_id=first)
            again = await turn(runner, "what is my name?", session_id=first)
            return lost, again, await store.load(first)

    lost, again, saved = run(scenario)
    assert done(lost).context_lost
    assert answer(lost).startswith(f"{FORGOT}: this session's earlier context was lost.")
    # The session starts over: the next turn has context again (but not the lost fact).
    assert not done(again).context_lost
    assert answer(again).startswith(f"{FORGOT} your name.")
    assert saved is not None and len(saved.messages) == 4


def test_the_same_seed_gives_the_same_answer() -> None:
    async def scenario() -> list[str]:
        async with agent() as runner:
            return [answer(await turn(runner, "hello", seed=7)) for _ in range(2)]

    first, second = run(scenario)
    assert first == second and first
