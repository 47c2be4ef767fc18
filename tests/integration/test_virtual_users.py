"""Closed sessions: N virtual users, each running one conversation after another."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir

pytestmark = pytest.mark.timeout(120)


def test_each_user_runs_sessions_back_to_back(fast_agent: str, tmp_path: Path) -> None:
    data = {
        "seed": 5,
        "target": {"base_url": fast_agent, "protocol": "openai-chat"},
        "load": {
            "model": "sessions",
            "users": 3,
            "duration": "3s",
            "turns": {"kind": "empirical", "values": [2, 3]},
            "think_time": {"kind": "uniform", "min": "20ms", "max": "60ms"},
        },
        "request": {"prompt_tokens": 30, "max_tokens": 6},
    }
    scenario = parse_scenario(yaml.safe_dump(data), source="s.yaml")
    result = api.run(scenario, out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    assert records and all(r.outcome is Outcome.OK for r in records)
    by_user: dict[int | None, dict[str | None, list[RequestRecord]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for record in records:
        by_user[record.user][record.session_id].append(record)
    assert set(by_user) == {0, 1, 2}  # exactly the users asked for, no open arrivals
    for sessions in by_user.values():
        assert len(sessions) >= 2  # a user starts the next session after the last
        spans = sorted(
            (min(r.intended_at for r in turns), max(r.done_at for r in turns), len(turns))
            for turns in sessions.values()
        )
        for (_, done, _), (start, _, _) in pairwise(spans):
            # One session at a time, then a think time (>= 20 ms): the loop's timers count
            # whole milliseconds, so a think may end up to a millisecond early.
            assert start >= done + 19_000_000
        assert all(n <= 3 for _, _, n in spans)
    # No turn starts after the duration.
    assert max(r.intended_at for r in records) < 3_000_000_000
    summary = result.summary.to_dict()["sessions"]
    assert summary["count"] == sum(len(s) for s in by_user.values())


def test_users_and_a_rate_together_are_a_config_error() -> None:
    text = (
        "target: {base_url: 'http://127.0.0.1:1'}\n"
        "load: {model: sessions, users: 4, rate: 2/s, duration: 5s}\n"
        "request: {prompt_tokens: 5}\n"
    )
    with pytest.raises(Exception, match=r"s\.yaml:2: load: users runs sessions back to back"):
        parse_scenario(text, source="s.yaml")
