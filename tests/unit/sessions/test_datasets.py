"""ShareGPT-style datasets: the sample writer, the reader, and sessions replaying them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentload.config import load_scenario
from agentload.errors import ConfigError
from agentload.sessions.compose import scenario_builder
from agentload.sessions.datasets import DatasetError, load_conversations, pick, write_sample
from agentload.sessions.state import SessionState

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_sample_reads_back_as_multi_turn_conversations(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "d.jsonl", conversations=12, seed=5)
    conversations = load_conversations(path)
    assert len(conversations) == 12
    assert all(2 <= len(c.user_turns) <= 5 for c in conversations)
    assert all(len(c.answer_chars) == len(c.user_turns) for c in conversations)
    assert write_sample(tmp_path / "e.jsonl", conversations=12, seed=5).read_bytes() == (
        path.read_bytes()
    )
    assert pick(conversations, 1, 7) == pick(conversations, 1, 7)


def test_the_shipped_sample_is_the_generated_one() -> None:
    shipped = EXAMPLES / "data" / "sharegpt-sample.jsonl"
    assert len(load_conversations(shipped)) == 40


def test_role_content_rows_are_read_and_bad_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {"conversations": [{"from": "gpt", "value": "only an answer"}]},  # skipped: no user turn
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n{not json\n")
    with pytest.raises(DatasetError, match=r"d\.jsonl:4: not JSON"):
        load_conversations(path)
    path.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"text": "x"}\n')
    with pytest.raises(DatasetError, match=r"d\.jsonl:3: expected"):
        load_conversations(path)
    assert load_conversations(path, max_conversations=1)[0].user_turns == ("hi",)


def test_a_session_replays_one_conversation_turn_by_turn(tmp_path: Path) -> None:
    write_sample(tmp_path / "data.jsonl", conversations=6, seed=2)
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(
        "target: {base_url: 'http://127.0.0.1:1'}\n"
        "load: {model: sessions, rate: 1/s, sessions: 3, turns: 3}\n"
        "request: {dataset: data.jsonl, max_tokens: 8}\n"
    )
    scenario = load_scenario(scenario_file)  # the path is taken from the scenario's folder
    builder = scenario_builder(scenario)
    session = SessionState(session_id="s1", index=1)
    sent = []
    for turn in range(3):
        body = json.loads(builder.build(turn, 0, session=session, turn=turn).body or b"")
        sent.append(body["messages"][-1]["content"])
    conversation = pick(load_conversations(tmp_path / "data.jsonl"), scenario.seed, 1)
    turns = conversation.user_turns
    assert sent == [turns[t % len(turns)] for t in range(3)]


def test_a_missing_dataset_is_a_config_error(tmp_path: Path) -> None:
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(
        "target: {base_url: 'http://127.0.0.1:1'}\n"
        "load: {model: sessions, rate: 1/s, sessions: 3}\n"
        "request: {dataset: nowhere.jsonl}\n"
    )
    with pytest.raises(ConfigError, match=r"s\.yaml:3: request\.dataset: .*cannot read"):
        load_scenario(scenario_file)
