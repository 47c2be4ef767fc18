"""The agent-task protocol against the reference agent's task API: submit, poll with
backoff, and the job's queue wait, execution and polling overhead on each record."""

from __future__ import annotations

from pathlib import Path

import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir


def run_tasks(url: str, out: Path, **poll: str) -> list:
    data = {
        "name": "tasks",
        "target": {"base_url": url, "protocol": "agent-task"},
        "load": {"arrival": "constant", "rate": "20/s", "requests": 6},
        "request": {"prompt_tokens": 30, "max_tokens": 24, "tools": [], "poll": poll},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=out)
    return list(RunDir.open(result.run_dir).iter_records())


def test_jobs_are_polled_to_their_result(fast_agent: str, tmp_path: Path) -> None:
    records = run_tasks(fast_agent, tmp_path / "run", initial="20ms", max_interval="100ms")
    assert len(records) == 6 and {r.outcome for r in records} == {Outcome.OK}
    for record in records:
        assert record.polls >= 1
        assert record.output_tokens == 24
        assert {"queue_wait", "execution", "poll_overhead"} <= set(record.phases_ms)
        assert record.latency_ms is not None
        # the client cannot see the result before the job's server-side life is over
        assert record.latency_ms >= record.phases_ms["execution"]


def test_a_job_slower_than_the_wait_is_a_job_timeout(fast_agent: str, tmp_path: Path) -> None:
    records = run_tasks(fast_agent, tmp_path / "run", initial="10ms", max_wait="30ms")
    assert {r.error_kind for r in records} == {ErrorKind.JOB_TIMEOUT}
