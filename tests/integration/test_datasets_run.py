"""The shipped session examples load, and the dataset example replays conversations against
the reference agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentload import api
from agentload.config import load_scenario
from agentload.records.record import Outcome
from agentload.records.rundir import RunDir
from agentload.sessions.datasets import load_conversations

pytestmark = pytest.mark.timeout(120)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEW_EXAMPLES = (
    "personas-sessions",
    "virtual-users",
    "responses-threads",
    "a2a-agent",
    "dataset-chat",
)


@pytest.mark.parametrize("name", NEW_EXAMPLES)
def test_the_examples_load(name: str) -> None:
    scenario = load_scenario(EXAMPLES / f"{name}.yaml")
    assert scenario.load.model == "sessions"


def test_dataset_conversations_are_replayed(fast_agent: str, tmp_path: Path) -> None:
    scenario = load_scenario(
        EXAMPLES / "dataset-chat.yaml",
        overrides=[f"target.base_url={fast_agent}", "load.sessions=6", "load.rate=20/s"],
    )
    result = api.run(scenario, out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    assert records and all(r.outcome is Outcome.OK for r in records)
    assert {r.persona for r in records} == {"support"}
    first_turns = [r.input_tokens or 0 for r in records if r.turn == 0]
    shortest = min(
        min(len(t) for t in c.user_turns)
        for c in load_conversations(EXAMPLES / "data" / "sharegpt-sample.jsonl")
    )
    # The dataset's question and the persona's system prompt both reach the model.
    assert min(first_turns) >= shortest // 4 + 10
    by_turn = result.summary.to_dict()["sessions"]["by_turn"]
    means = [row["input_tokens_mean"] for row in by_turn]
    assert means == sorted(means)  # the conversation grows turn by turn
