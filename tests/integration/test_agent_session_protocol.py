"""The agent-session protocol against the reference agent's session API: server-side
history, step-event timing, and lost context detected as its own error kind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from tests.conftest import running_reference_agent


def run_sessions(url: str, out: Path, sessions: int = 8) -> list:
    data = {
        "name": "agent-sessions",
        "seed": 2,
        "target": {"base_url": url, "protocol": "agent-session"},
        "load": {
            "model": "sessions",
            "arrival": "constant",
            "rate": "40/s",
            "sessions": sessions,
            "turns": 3,
            "think_time": {"min": "100ms", "max": "100ms"},
        },
        "request": {"prompt_tokens": 30, "max_tokens": 6, "tools": []},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=out)
    return list(RunDir.open(result.run_dir).iter_records())


def test_turns_stream_step_events_and_carry_server_phases(fast_agent: str, tmp_path: Path) -> None:
    records = run_sessions(fast_agent, tmp_path / "run", sessions=4)
    assert len(records) == 12 and {r.outcome for r in records} == {Outcome.OK}
    for record in records:
        assert record.first_token_at is not None and record.output_tokens == 6
        assert {"store_read", "queue", "decode", "store_write"} <= set(record.phases_ms)
        assert ("session_create" in record.phases_ms) == (record.turn == 0)
    first_turns = [r for r in records if r.turn == 0]
    later_turns = [r for r in records if r.turn == 2]
    # the agent keeps the history: its prompt grows although the client sends one message
    assert min(r.input_tokens or 0 for r in later_turns) > max(
        r.input_tokens or 0 for r in first_turns
    )


def test_a_store_too_small_for_the_sessions_shows_as_context_lost(tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text("store: {capacity_sessions: 2}\n")
    with running_reference_agent(tmp_path / "a", "--speed", "10", "--config", str(small)) as url:
        lossy = run_sessions(url, tmp_path / "lossy")
    with running_reference_agent(tmp_path / "b", "--speed", "10") as url:
        roomy = run_sessions(url, tmp_path / "roomy")
    lost = Counter(r.error_kind for r in lossy)[ErrorKind.CONTEXT_LOST]
    assert lost > 0
    assert Counter(r.error_kind for r in roomy)[ErrorKind.CONTEXT_LOST] == 0


def test_step_events_give_time_to_first_step_and_each_new_step(
    fast_agent: str, tmp_path: Path
) -> None:
    data = {
        "name": "agent-steps",
        "seed": 4,
        "target": {"base_url": fast_agent, "protocol": "agent-session"},
        "load": {
            "model": "sessions",
            "arrival": "constant",
            "rate": "20/s",
            "sessions": 4,
            "turns": 2,
            "think_time": 0,
        },
        "request": {"content": "please search for batching papers", "max_tokens": 6},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    assert len(records) == 8 and {r.outcome for r in records} == {Outcome.OK}
    for r in records:
        phases = r.phases_ms
        assert r.sent_at is not None and r.first_token_at is not None
        # the first step comes before the first token, measured from the message's send
        turn_ttft_ms = (r.first_token_at - r.sent_at) / 1e6
        assert 0 <= phases["client.first_step"] <= turn_ttft_ms
        # the search tool's own time, by name, within the server's sum over tools
        assert 0 < phases["step.tool.search"] <= phases["tool"] + 100
        assert phases["step.tool.search"] >= 0.5 * phases["tool"]
        assert "step.plan" in phases  # the server reports no planning phase
        # steps the server already times are not counted twice
        assert not {"step.store_read", "step.store_write", "step.inference", "step.tool"} & set(
            phases
        )
