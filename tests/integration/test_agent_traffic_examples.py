"""The agent-traffic examples a user copies (support agent with memory, e-commerce mix,
async research agent) run against the reference agent, shortened, and show what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentload import api
from agentload.config import load_scenario
from agentload.records.rundir import RunDir

pytestmark = pytest.mark.timeout(120)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, url: str, out: Path, *overrides: str) -> api.RunResult:
    scenario = load_scenario(
        EXAMPLES / f"{name}.yaml", overrides=[f"target.base_url={url}", *overrides]
    )
    return api.run(scenario, out_dir=out)


def test_support_agent_sessions_keep_their_memory(fast_agent: str, tmp_path: Path) -> None:
    result = run("support-agent-sessions", fast_agent, tmp_path / "r",
                 "load.duration=3s", "load.rate=4/s", "load.think_time=30ms")  # fmt: skip
    sessions = result.summary.to_dict()["sessions"]
    assert sessions["count"] >= 5 and sessions["success_rate"] == 1.0
    rows = sessions["by_turn"]
    assert len(rows) >= 3
    # the agent keeps the history: a later turn's prompt is larger than the first's
    assert rows[2]["input_tokens_mean"] > rows[0]["input_tokens_mean"]


def test_ecommerce_mix_has_every_action_in_its_share(fast_agent: str, tmp_path: Path) -> None:
    result = run("ecommerce-mix", fast_agent, tmp_path / "r", "load.duration=3s",
                 "load.rate=60/s")  # fmt: skip
    per_action = result.summary.to_dict()["per_action"]
    assert set(per_action) == {"search", "order", "payment", "request"}
    total = sum(row["count"] for row in per_action.values())
    assert total >= 120 and result.summary.error == 0
    # 65/20/10/5: binomial sd of the search share at n≈180 is ~0.036
    assert per_action["search"]["count"] / total == pytest.approx(0.65, abs=0.15)
    assert per_action["search"]["count"] > per_action["order"]["count"]
    assert per_action["order"]["count"] > per_action["request"]["count"]


def test_research_agent_jobs_are_polled_and_costed(fast_agent: str, tmp_path: Path) -> None:
    result = run("research-agent-tasks", fast_agent, tmp_path / "r", "load.duration=3s",
                 "load.rate=5/s", "request.max_tokens=32", "request.poll.initial=20ms")  # fmt: skip
    records = list(RunDir.open(result.run_dir).iter_records())
    assert records and result.summary.error == 0
    jobs = result.summary.to_dict()["jobs"]
    assert jobs["count"] == len(records) and jobs["polls_per_job"]["mean"] >= 1
    assert jobs["poll_overhead_ms"]["count"] == len(records)
