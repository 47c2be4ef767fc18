"""The sessions (semi-open) model against the reference agent: turns are closed-loop inside a
session, carry the conversation, and the input grows turn by turn."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir


def test_sessions_carry_history_and_run_their_turns_in_order(
    fast_agent: str, tmp_path: Path
) -> None:
    data = {
        "name": "sessions",
        "seed": 4,
        "target": {"base_url": fast_agent, "protocol": "openai-chat"},
        "load": {
            "model": "sessions",
            "arrival": "poisson",
            "rate": "8/s",
            "sessions": 6,
            "turns": 3,
            "think_time": {"min": "20ms", "max": "50ms"},
        },
        "request": {"prompt_tokens": 40, "max_tokens": 8},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    sessions = result.summary.to_dict()["sessions"]
    assert sessions["count"] == 6 and sessions["succeeded"] == 6 and sessions["failed"] == 0
    assert [row["turn"] for row in sessions["by_turn"]] == [0, 1, 2]
    tokens = [row["input_tokens_mean"] for row in sessions["by_turn"]]
    assert tokens == sorted(tokens) and tokens[0] < tokens[-1]  # context grows by turn
    records = list(RunDir.open(result.run_dir).iter_records())
    assert len(records) == 18 and all(r.outcome is Outcome.OK for r in records)
    by_session: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in records:
        by_session[record.session_id].append(record)
    assert len(by_session) == 6 and None not in by_session
    for turns in by_session.values():
        turns.sort(key=lambda r: r.turn)
        assert [r.turn for r in turns] == [0, 1, 2]
        for before, after in itertools.pairwise(turns):
            # closed loop inside the session: the next turn waits for the answer + think
            assert after.intended_at >= before.done_at + 20_000_000
            # the whole conversation is sent again: the server counts more input tokens
            assert after.input_tokens is not None and before.input_tokens is not None
            assert after.input_tokens > before.input_tokens + 8
