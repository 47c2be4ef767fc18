"""Persona shares and session shapes, context checks, and the builders that carry them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.config import parse_scenario
from agentload.config.sessions import ContextCheck
from agentload.records.record import CallResult, ErrorKind, Outcome
from agentload.sessions.compose import scenario_builder
from agentload.sessions.nonce import judge, session_nonce, turn_text
from agentload.sessions.personas import SessionShaper
from agentload.sessions.state import SessionState


def scenario(**changes: Any) -> Any:
    data: dict[str, Any] = {
        "seed": 3,
        "target": {"base_url": "http://127.0.0.1:1", "protocol": "openai-chat"},
        "load": {"model": "sessions", "rate": "5/s", "duration": "10s", "turns": 3},
        "request": {"prompt_tokens": 20, "max_tokens": 8},
    }
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_scenario(yaml.safe_dump(data), source="s.yaml")


PERSONAS = {
    "browser": {"weight": 6, "turns": 1},
    "buyer": {"weight": 3, "turns": {"kind": "uniform", "min": 4, "max": 6}},
    "chatty": {"weight": 1, "session_duration": "5s", "think_time": "100ms"},
}


def test_persona_shares_follow_the_weights() -> None:
    shaper = SessionShaper(scenario(personas=PERSONAS))
    names = [shaper.persona_of(i) for i in range(6000)]
    shares = {n: names.count(n) / len(names) for n in PERSONAS}
    assert shares == pytest.approx({"browser": 0.6, "buyer": 0.3, "chatty": 0.1}, abs=0.025)


def test_each_persona_has_its_own_shape() -> None:
    shaper = SessionShaper(scenario(personas=PERSONAS))
    shapes = [shaper(i, np.random.default_rng(i)) for i in range(300)]
    by = {s.persona: s for s in shapes}
    assert {s.turns for s in shapes if s.persona == "browser"} == {1}
    assert {s.turns for s in shapes if s.persona == "buyer"} <= {4, 5, 6}
    chatty = by["chatty"]
    assert chatty.max_duration_s == 5.0 and chatty.turns > 1000  # the clock ends it
    assert chatty.think_s(np.random.default_rng(0)) == 0.1
    # The same session number gets the same persona whatever else happens.
    again = SessionShaper(scenario(personas=PERSONAS))
    assert [again.persona_of(i) for i in range(50)] == [shaper.persona_of(i) for i in range(50)]


def test_persona_mistakes_name_the_persona() -> None:
    with pytest.raises(Exception, match=r"personas\.buyer\.mix names nope"):
        scenario(personas={"buyer": {"mix": {"nope": 1}}})
    text = (
        "target: {base_url: 'http://127.0.0.1:1'}\nload: {rate: 1/s, duration: 1s}\n"
        "request: {prompt_tokens: 5}\npersonas: {a: {weight: 1}}\n"
    )
    with pytest.raises(Exception, match=r"personas need load\.model: sessions"):
        parse_scenario(text, source="s.yaml")


def test_personas_send_their_own_requests_with_their_system_prompt() -> None:
    built = scenario_builder(
        scenario(
            personas={
                "plain": {"weight": 1},
                "support": {"weight": 1, "system_prompt": "Be brief.",
                            "request": {"messages": [{"role": "user", "content": "hi"}]}},
            }
        )
    )  # fmt: skip
    session = SessionState(session_id="s0", persona="support")
    body = json.loads(built.build(0, 0, session=session, turn=0).body or b"")
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == "Be brief."
    plain = json.loads(built.build(1, 0, session=SessionState("s1", persona="plain")).body or b"")
    assert [m["role"] for m in plain["messages"]] == ["user"]


CHECK = ContextCheck(plant_turn=1, check_every=2)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 12))
def test_the_fact_is_planted_once_and_asked_for_on_check_turns(index: int, turn: int) -> None:
    state = SessionState(session_id="s", context_check=CHECK, nonce=session_nonce(1, index))
    assert state.nonce is not None and len(state.nonce) == 6
    text = turn_text(state, turn, "hello")
    if turn == 1:
        assert text == f"Remember that the code is {state.nonce}. hello"
        assert state.expect_nonce is None
    elif turn > 1 and (turn - 1) % 2 == 0:
        assert text == "What is the code?" and state.expect_nonce == state.nonce
    else:
        assert text == "hello" and state.expect_nonce is None


def test_an_answer_without_the_fact_is_context_lost() -> None:
    state = SessionState(session_id="s", context_check=CHECK, nonce="123456")
    turn_text(state, 3, "hi")

    def ok(answer: str) -> CallResult:
        return CallResult(done_at=1, outcome=Outcome.OK, answer=answer)

    assert judge(state, ok("The code is 123456.")).outcome is Outcome.OK
    lost = judge(state, ok("I don't know: this session's earlier context was lost."))
    assert lost.outcome is Outcome.ERROR and lost.error_kind is ErrorKind.CONTEXT_LOST
    assert "123456" in (lost.error_message or "")
    failed = CallResult(done_at=1, outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_5XX)
    assert judge(state, failed).error_kind is ErrorKind.HTTP_5XX  # an error stays that error
    turn_text(state, 4, "hi")  # not a check turn: anything goes
    assert judge(state, ok("no code here")).outcome is Outcome.OK


def test_affinity_header_names_the_session() -> None:
    built = scenario_builder(scenario(target={"affinity_header": "X-Session-Id"}))
    work = built.build(7, 0, session=SessionState(session_id="s4"), turn=0)
    assert ("X-Session-Id", "s4") in work.headers
    assert ("X-Session-Id", "r8") in built.build(8, 0).headers


def test_drawn_prompt_and_answer_lengths() -> None:
    built = scenario_builder(
        scenario(request={"prompt_tokens": None,
                          "input_tokens": {"kind": "uniform", "min": 10, "max": 400},
                          "output_tokens": {"kind": "empirical", "values": [16, 64]}})
    )  # fmt: skip
    works = [built.build(i, 0) for i in range(200)]
    estimates = [w.input_tokens_est or 0 for w in works]
    assert 10 <= min(estimates) < 60 and 350 < max(estimates) <= 400
    lengths = {len(json.loads(w.body or b"")["messages"][0]["content"].split()) for w in works}
    assert len(lengths) > 50  # really drawn per request
    assert {json.loads(w.body or b"")["max_tokens"] for w in works} == {16, 64}
