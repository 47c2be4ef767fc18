"""Adaptive pacing against the reference agent's baseline profile, where the truth is plain:
one answer at a time, ≈116 ms each, so N users wait ≈ N × 116 ms, and 4 users are the most
that keep the p95 under 500 ms."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from agentload import api
from agentload.config import parse_scenario
from tests.conftest import running_reference_agent


def test_adaptive_load_settles_on_the_concurrency_that_holds_the_target(tmp_path: Path) -> None:
    with running_reference_agent(tmp_path / "agent", "--profile", "baseline") as url:
        data = {
            "name": "adaptive",
            "target": {"base_url": url, "protocol": "openai-chat"},
            "load": {
                "model": "adaptive",
                "target": "p95(latency) < 500ms",
                "max_users": 32,
                "interval": "1s",
                "duration": "10s",
                "grace": "2s",
            },
            "request": {"prompt_tokens": 64, "max_tokens": 8},
        }
        scenario = parse_scenario(yaml.safe_dump(data), source="adaptive.yaml")
        result = api.run(scenario, out_dir=tmp_path / "run")
    assert result.status == "complete"
    lines = (result.run_dir / "adaptive.jsonl").read_text().splitlines()
    trajectory = [json.loads(line) for line in lines]
    assert trajectory[0]["action"] == "start" and trajectory[0]["limit"] == 1
    assert len(trajectory) >= 4
    assert all(1 <= step["limit"] <= 32 for step in trajectory)
    summary = json.loads((result.run_dir / "adaptive.json").read_text())
    # 4 users at the model's ≈116 ms per answer. On a slower or noisier machine (the p95 one
    # user saw, the first observation, above 125 ms) the answer may be 3 users, or 2 when a
    # p95 of 20 samples near the limit tips over; never 5 or more, never 1.
    one_user_ms = next(s["observed_ms"] for s in trajectory if s["observed_ms"] is not None)
    truth = min(4, int(500 // one_user_ms))
    assert truth >= 3, f"one user's p95 was {one_user_ms} ms; the model gives ~116 (≤ 166 to judge)"
    assert truth - 1 <= summary["best_meeting_target"] <= 4, (truth, trajectory)
    assert truth - 1 <= summary["settled_limit"] <= 4.5, (truth, trajectory)
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["adaptive"]["target"] == "p95(latency) < 500ms"
    # Never more users in flight than the limit allowed.
    assert max(step["in_flight"] for step in trajectory) <= max(s["limit"] for s in trajectory)
