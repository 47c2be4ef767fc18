"""A weighted mix of personas against the reference agent: shares, per-persona shapes, the
per-persona table, sla marking, and sessions arriving by a load profile."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir
from agentload.report.markdown import summary_markdown

pytestmark = pytest.mark.timeout(120)


def run(data: dict[str, Any], out: Path) -> tuple[dict[str, Any], list[RequestRecord]]:
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=out)
    return result.summary.to_dict(), list(RunDir.open(result.run_dir).iter_records())


def test_persona_shares_and_shapes_follow_the_scenario(fast_agent: str, tmp_path: Path) -> None:
    data = {
        "seed": 21,
        "target": {"base_url": fast_agent, "protocol": "agent-session"},
        "load": {
            "model": "sessions",
            # Sessions may arrive by any open process: here a ramp that ends by itself.
            "arrival": {"kind": "ramp", "from": "20/s", "to": "40/s", "duration": "2s"},
            "turns": 1,
            "think_time": "20ms",
        },
        "request": {"prompt_tokens": 20, "max_tokens": 4},
        "personas": {
            "browser": {"weight": 3},
            "buyer": {
                "weight": 1,
                "turns": 3,
                "request": {"content": "What is the status of order 1234?", "max_tokens": 6},
            },
        },
        "thresholds": ["p99(latency{persona=buyer}) < 30s"],
    }
    summary, records = run(data, tmp_path / "r")
    sessions: dict[str, set[str | None]] = defaultdict(set)
    turns: Counter[str | None] = Counter()
    for record in records:
        assert record.outcome is Outcome.OK, record.error_message
        assert record.session_id is not None
        sessions[record.session_id].add(record.persona)
        turns[record.persona] += 1
    assert all(len(p) == 1 for p in sessions.values())  # a session keeps its persona
    per_persona = Counter(next(iter(p)) for p in sessions.values())
    count = sum(per_persona.values())
    assert 45 <= count <= 75  # ~60 arrivals from the 2 s ramp
    # Seeded draws of weight 3:1; binomial sd at n=60 is ~0.056.
    assert per_persona["buyer"] / count == pytest.approx(0.25, abs=0.17)
    assert turns["buyer"] == 3 * per_persona["buyer"] and turns["browser"] == per_persona["browser"]
    table = summary["sessions"]["by_persona"]
    assert set(table) == {"browser", "buyer"}
    assert table["buyer"]["sessions"] == per_persona["buyer"]
    assert table["buyer"]["turns_mean"] == 3.0 and table["browser"]["turns_mean"] == 1.0
    assert table["buyer"]["share"] + table["browser"]["share"] == pytest.approx(1.0)
    (verdict,) = summary["thresholds"]
    assert verdict["ok"] is True and verdict["samples"] == turns["buyer"]  # buyers' turns only
    markdown = summary_markdown(summary, title="personas")
    assert "**By persona**" in markdown
    assert f"| buyer | {per_persona['buyer']} | " in markdown
    assert f"| browser | {per_persona['browser']} | " in markdown


def test_an_answer_over_the_sla_is_slow_not_an_error(fast_agent: str, tmp_path: Path) -> None:
    data = {
        "seed": 2,
        "target": {"base_url": fast_agent, "protocol": "openai-chat"},
        "load": {"model": "sessions", "rate": "10/s", "sessions": 6, "turns": 2,
                 "think_time": "10ms"},
        "request": {"prompt_tokens": 20, "max_tokens": 24},
        "actions": {"fast": {"prompt_tokens": 20, "max_tokens": 24, "sla": "30s"}},
        "mix": {"request": 1, "fast": 1},
        "personas": {"only": {"weight": 1}},
    }  # fmt: skip
    # `request` has an sla no answer can meet; `fast` one every answer meets.
    data["request"]["sla"] = "1ms"
    summary, records = run(data, tmp_path / "r")
    assert all(r.outcome is Outcome.OK for r in records)
    slow = {r.action: r.slow for r in records}
    assert slow == {"request": True, "fast": False}
    expected = sum(r.action == "request" for r in records)
    assert summary["counts"]["slow"] == expected and summary["counts"]["error"] == 0
    assert summary["sessions"]["by_persona"]["only"]["slow"] == expected
    assert summary["sessions"]["failed"] == 0  # slow answers do not fail a session
