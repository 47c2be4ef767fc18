"""The A2A load client against the reference agent's A2A server (JSON-RPC): send, stream,
get, and sessions kept in one contextId."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

pytest.importorskip("a2a.server.routes", reason="the a2a extra is not installed")

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir
from tests.conftest import free_port, running_reference_agent

pytestmark = pytest.mark.timeout(120)


def run(url: str, out: Path, **request: object) -> list[RequestRecord]:
    data = {
        "seed": 1,
        "target": {"base_url": url, "protocol": "a2a"},
        "load": {"model": "sessions", "rate": "10/s", "sessions": 3, "turns": 3,
                 "think_time": "20ms",
                 "context_check": {"plant_turn": 0, "check_every": 2}},
        "request": {**({} if "content" in request else {"prompt_tokens": 20}), **request},
    }  # fmt: skip
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=out)
    return list(RunDir.open(result.run_dir).iter_records())


@pytest.mark.parametrize(("stream", "get"), [(True, True), (False, False)])
def test_turns_share_a_context_and_answer_from_it(
    fast_agent: str, tmp_path: Path, stream: bool, get: bool
) -> None:
    records = run(fast_agent, tmp_path / "r", stream=stream, get=get)
    assert len(records) == 9
    assert all(r.outcome is Outcome.OK for r in records), [r.error_message for r in records]
    by_session: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in records:
        by_session[record.session_id].append(record)
    for turns in by_session.values():
        turns.sort(key=lambda r: r.turn)
        for before, after in pairwise(turns):
            assert (after.input_tokens or 0) > (before.input_tokens or 0)  # one context
    # Turn 2 asked for the code planted in turn 0: the answers had it (else context_lost).
    assert all(r.polls == (1 if get else 0) for r in records)
    assert all((r.first_token_at is not None) == stream for r in records)
    assert all(r.phases_ms.get("decode", 0) > 0 for r in records)


def test_an_agent_that_is_not_there_is_a_connect_error(tmp_path: Path) -> None:
    records = run(f"http://127.0.0.1:{free_port()}", tmp_path / "r")
    assert records and {r.error_kind for r in records} == {ErrorKind.CONNECT_REFUSED}


@pytest.mark.parametrize("stream", [True, False])
def test_a_failed_tool_is_a_tool_error_not_a_generic_job_failure(
    tmp_path: Path, stream: bool
) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("faults: {tool_error_rate: 1.0}\n")
    with running_reference_agent(tmp_path / "a", "--speed", "10", "--config", str(config)) as url:
        records = run(url, tmp_path / "r", content="calculate 12 * (3 + 4)", stream=stream)
    assert records
    assert {r.error_kind for r in records} == {ErrorKind.TOOL_ERROR}, [
        r.error_message for r in records
    ]
    assert all("tool_error" in (r.error_message or "") for r in records)
