"""Actions of different protocols in one scenario: each request goes out with the client of
its own protocol, against the reference agent, and the summary has a row per action."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.clients import client_for
from agentload.clients.dispatch import DispatchClient
from agentload.config import parse_scenario
from agentload.errors import ConfigError
from agentload.records.record import Outcome
from agentload.records.rundir import RunDir


def mixed(url: str) -> dict[str, Any]:
    """A session logs in (a plain GET), chats, and sometimes hands a job to the research API."""
    return {
        "name": "mixed-protocols",
        "seed": 11,
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": {
            "model": "sessions",
            "arrival": "constant",
            "rate": "20/s",
            "sessions": 16,
            "turns": 6,
            "think_time": 0,
        },
        "request": {"prompt_tokens": 20, "max_tokens": 6},
        "actions": {
            "login": {"protocol": "http", "method": "GET", "path": "/healthz"},
            "research": {
                "protocol": "agent-task",
                "content": "search for batching in LLM serving",
                "max_tokens": 8,
                "poll": {"initial": "20ms", "multiplier": 1.5, "max_interval": "200ms"},
                "sla": "30s",
            },
        },
        "mix": {"login": 1},
        "flow": {"login": {"request": 1}, "request": {"request": 0.4, "research": 0.6}},
    }


def test_one_scenario_mixes_chat_http_and_async_jobs(fast_agent: str, tmp_path: Path) -> None:
    scenario = parse_scenario(yaml.safe_dump(mixed(fast_agent)), source="m.yaml")
    result = api.run(scenario, out_dir=tmp_path / "run")
    by_action: dict[str, list] = defaultdict(list)
    for record in RunDir.open(result.run_dir).iter_records():
        by_action[record.action].append(record)
    assert set(by_action) == {"login", "request", "research"}
    assert len(by_action["login"]) == 16  # every session starts with it
    for records in by_action.values():
        assert {r.outcome for r in records} == {Outcome.OK}, [r.error_message for r in records]
    # each action was answered in its own protocol
    assert all(r.http_status == 200 and r.first_token_at is None for r in by_action["login"])
    assert all(r.first_token_at is not None and r.output_tokens for r in by_action["request"])
    assert all(r.polls >= 1 and "poll_overhead" in r.phases_ms for r in by_action["research"])
    per_action = json.loads((result.run_dir / "summary.json").read_text())["per_action"]
    for name, records in by_action.items():
        assert per_action[name]["ok"] == len(records) and per_action[name]["error"] == 0


def test_only_scenarios_with_other_protocols_get_a_dispatcher(tmp_path: Path) -> None:
    data = mixed("http://127.0.0.1:9")
    scenario = parse_scenario(yaml.safe_dump(data), source="m.yaml")
    assert isinstance(client_for(scenario, max_connections=4), DispatchClient)
    data["actions"]["login"]["protocol"] = "openai-chat"
    del data["actions"]["research"], data["flow"]["request"]["research"]
    data["actions"]["login"] = {"prompt_tokens": 4}
    plain = parse_scenario(yaml.safe_dump(data), source="p.yaml")
    assert not isinstance(client_for(plain, max_connections=4), DispatchClient)


def test_a_request_of_another_protocol_than_the_target_is_still_an_error() -> None:
    data = mixed("http://127.0.0.1:9")
    data["request"] = {"protocol": "http", "path": "/"}
    with pytest.raises(ConfigError, match=r"target\.protocol"):
        parse_scenario(yaml.safe_dump(data), source="bad.yaml")
