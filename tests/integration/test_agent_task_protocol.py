"""The agent-task protocol against the reference agent's task API: submit, poll with
backoff, and the job's queue wait, execution and polling overhead on each record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

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


def task_app() -> web.Application:
    """A task API whose jobs fail in ways only a scenario's rules can name: the submission of
    ``"busy"`` is refused with the server's own reason, every other job fails with one."""

    async def submit(request: web.Request) -> web.Response:
        content = (await request.json()).get("content", "")
        if content == "busy":
            return web.json_response({"detail": {"reason": "kv_full"}}, status=503)
        return web.json_response({"id": "j1", "status": "queued"}, status=202,
                                 headers={"Location": "/v1/tasks/j1"})  # fmt: skip

    async def view(_: web.Request) -> web.Response:
        error = {"type": "engine_error", "message": "KV blocks exhausted"}
        return web.json_response({"id": "j1", "status": "failed", "error": error,
                                  "created_at": 1.0, "started_at": 1.0, "finished_at": 1.0})  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/tasks", submit)
    app.router.add_get("/v1/tasks/j1", view)
    return app


@pytest.mark.parametrize("with_rules", [True, False])
def test_scenario_rules_classify_task_failures(
    app_server: Callable[[web.Application], str], tmp_path: Path, with_rules: bool
) -> None:
    rules = [
        {"kind": "model_oom", "json_path": "detail.reason", "equals": "kv_full"},
        {"kind": "model_oom", "body_regex": "KV blocks exhausted"},
    ]
    data: dict[str, Any] = {
        "seed": 1,
        "target": {"base_url": app_server(task_app()), "protocol": "agent-task",
                   "classify": rules if with_rules else []},
        "load": {"arrival": "constant", "rate": "50/s", "requests": 8},
        "request": {"content": "work", "poll": {"initial": "5ms"}},
        "actions": {"busy": {"content": "busy"}},
        "mix": {"request": 1, "busy": 1},
    }  # fmt: skip
    result = api.run(parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=tmp_path / "r")
    kinds = {(r.action, r.error_kind) for r in RunDir.open(result.run_dir).iter_records()}
    if with_rules:  # the submission's 503 and the failed job's reason, by the scenario's rules
        assert kinds == {("busy", ErrorKind.MODEL_OOM), ("request", ErrorKind.MODEL_OOM)}
    else:  # the defaults: a 503 is a server error, a failed job is job_failed
        assert kinds == {("busy", ErrorKind.HTTP_5XX), ("request", ErrorKind.JOB_FAILED)}
