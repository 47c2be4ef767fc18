"""Context-loss detection by a planted fact: with a context store too small for the sessions
in flight the agent forgets, and the later answers that lack the fact are ``context_lost``;
with enough capacity no session loses anything.

The OpenAI Responses endpoint is used on purpose: it answers a forgotten thread like any
other (no ``context_lost`` flag, as OpenAI's would), so only the content check can tell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from tests.conftest import running_reference_agent

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def forgetful_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fast reference agent whose context store holds only two sessions."""
    tmp = tmp_path_factory.mktemp("forgetful")
    config = tmp / "agent.yaml"
    config.write_text("store:\n  capacity_sessions: 2\n")
    with running_reference_agent(tmp, "--speed", "10", "--config", str(config)) as url:
        yield url


def scenario(url: str, protocol: str = "openai-responses") -> Any:
    data = {
        "seed": 8,
        "target": {"base_url": url, "protocol": protocol},
        "load": {
            "model": "sessions",
            "rate": "12/s",
            "sessions": 12,
            "turns": 4,
            "think_time": {"min": "50ms", "max": "150ms"},
            "context_check": {"plant_turn": 0, "check_every": 1},
        },
        "request": {"prompt_tokens": 20, "max_tokens": 12},
    }
    return parse_scenario(yaml.safe_dump(data), source="s.yaml")


def test_a_store_too_small_loses_context_and_the_check_says_so(
    forgetful_agent: str, tmp_path: Path
) -> None:
    result = api.run(scenario(forgetful_agent), out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    lost = [r for r in records if r.error_kind is ErrorKind.CONTEXT_LOST]
    assert len(lost) >= 6  # ~12 sessions interleave over a 2-session store
    assert all(r.turn >= 1 for r in lost)  # only check turns can miss the fact
    assert all("lacks the fact planted earlier" in (r.error_message or "") for r in lost)
    assert all(r.outcome is Outcome.OK for r in records if r.turn == 0)
    assert result.summary.errors_by_kind == {"context_lost": len(lost)}


def test_enough_capacity_loses_nothing(fast_agent: str, tmp_path: Path) -> None:
    result = api.run(scenario(fast_agent), out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    assert len(records) == 48 and all(r.outcome is Outcome.OK for r in records)
    sessions = result.summary.to_dict()["sessions"]
    assert sessions["succeeded"] == 12 and sessions["failed"] == 0


def test_the_session_api_reports_the_same_loss(forgetful_agent: str, tmp_path: Path) -> None:
    result = api.run(scenario(forgetful_agent, "agent-session"), out_dir=tmp_path / "r")
    kinds = {k for k in result.summary.errors_by_kind}
    assert kinds == {"context_lost"} and result.summary.errors_by_kind["context_lost"] >= 6
