"""Planner: tool triggers and arguments, answering after a tool result, facts and recall."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.planner import (
    FORGOT,
    Plan,
    PlannedCall,
    arithmetic,
    learn_facts,
    plan_turn,
)

TOOLS = ("search", "lookup_order", "calculator")


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def plan(
    text: str,
    facts: dict[str, str] | None = None,
    tools: tuple[str, ...] = TOOLS,
    context_lost: bool = False,
) -> Plan:
    return plan_turn([user(text)], facts or {}, tools=tools, context_lost=context_lost)


@pytest.mark.parametrize(
    ("text", "call"),
    [
        (
            "search for cheap flights to Paris",
            PlannedCall("search", {"query": "cheap flights to Paris"}),
        ),
        ("Can you find me the best pizza?", PlannedCall("search", {"query": "the best pizza"})),
        ("please look up vegan recipes", PlannedCall("search", {"query": "vegan recipes"})),
        ("Where is my order #12345?", PlannedCall("lookup_order", {"order_id": "12345"})),
        ("look up order number 778", PlannedCall("lookup_order", {"order_id": "778"})),
        ("what is 12 * (3 + 4)?", PlannedCall("calculator", {"expression": "12 * (3 + 4)"})),
        ("calculate 2+2", PlannedCall("calculator", {"expression": "2+2"})),
        ("hello there", None),
        ("in order to win I need 3 things", None),
    ],
)
def test_trigger_words_pick_the_tool_and_its_arguments(text: str, call: PlannedCall | None) -> None:
    assert plan(text) == Plan(tool_call=call)


def test_only_allowed_tools_are_called() -> None:
    assert plan("search for cats", tools=("calculator",)).tool_call is None
    assert plan("find order 12", tools=("search",)).tool_call == PlannedCall(
        "search", {"query": "order 12"}
    )
    custom = plan("what's the weather in Paris", tools=("weather",)).tool_call
    assert custom == PlannedCall("weather", {"query": "what's the weather in Paris"})


@given(st.text(max_size=200), st.lists(st.sampled_from([*TOOLS, "weather"]), max_size=4))
def test_a_tool_result_is_always_answered_never_called_again(text: str, tools: list[str]) -> None:
    messages = [user(text), ChatMessage("tool", "1. result", name="search")]
    result = plan_turn(messages, {}, tools=tools)
    assert result.tool_call is None
    assert result.prefix == "Based on search: 1. result"


def test_a_failed_tool_is_reported_in_the_answer() -> None:
    messages = [user("search x"), ChatMessage("tool", "error: search failed", name="search")]
    assert plan_turn(messages, {}, tools=TOOLS).prefix.startswith("The search tool failed")


@given(st.text(max_size=200), st.lists(st.sampled_from(TOOLS), max_size=3))
def test_planning_is_total_and_calls_only_allowed_tools(text: str, tools: list[str]) -> None:
    result = plan(text, tools=tuple(tools))
    assert result.tool_call is None or result.tool_call.name in tools


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("My name is Ada.", {"name": "Ada"}),
        ("Hi! my name is Ada and I like tea", {"name": "Ada"}),
        ("call me Bob", {"name": "Bob"}),
        ("The code is 1234.", {"code": "1234"}),
        ("Remember that the door code is 4242, thanks", {"door code": "4242"}),
        ("remember my favourite colour is teal", {"favourite colour": "teal"}),
        ("what is my name?", {}),
        ("My name is Ada. Actually, my name is Eve.", {"name": "Eve"}),
    ],
)
def test_statements_plant_facts(text: str, facts: dict[str, str]) -> None:
    assert learn_facts([user(text)]) == facts


def test_only_user_messages_plant_facts() -> None:
    assert learn_facts([ChatMessage("assistant", "my name is Agent")]) == {}


@pytest.mark.parametrize(
    ("question", "facts", "lost", "prefix"),
    [
        ("what is my name?", {"name": "Ada"}, False, "Your name is Ada."),
        ("What's the code?", {"code": "1234"}, False, "The code is 1234."),
        ("do you remember my name?", {"name": "Ada"}, False, "Your name is Ada."),
        ("what is my name?", {}, False, f"{FORGOT} your name."),
        ("what is my name?", {}, True, f"{FORGOT}: this session's earlier context was lost."),
        ("what is the code?", {}, True, f"{FORGOT}: this session's earlier context was lost."),
        ("what is the capital of France?", {}, False, ""),  # not a memory question
    ],
)
def test_questions_recall_facts_or_say_so(
    question: str, facts: dict[str, str], lost: bool, prefix: str
) -> None:
    assert plan(question, facts, context_lost=lost) == Plan(prefix=prefix)


_names = st.text(st.characters(categories=["Lu", "Ll"]), min_size=1, max_size=20)


@given(_names, st.booleans())
def test_any_planted_name_is_recalled_in_a_later_turn(name: str, lost: bool) -> None:
    facts = learn_facts([user(f"Hello. My name is {name}.")])
    messages = [
        user(f"My name is {name}."),
        ChatMessage("assistant", " ok"),
        user("What is my name?"),
    ]
    assert plan_turn(messages, facts, context_lost=lost).prefix == f"Your name is {name}."


def test_arithmetic_needs_an_operation_between_numbers() -> None:
    assert arithmetic("I have 3 cats") is None
    assert arithmetic("(1 + 2) * 3 apples") == "(1 + 2) * 3"
    assert arithmetic("compute the mean") == "the mean"  # the calculator reports it invalid
