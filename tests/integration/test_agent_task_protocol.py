"""The agent-task protocol against the reference agent's task API: submit, poll with
backoff, and the job's queue wait, execution and polling overhead on each record."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir


def run_tasks(url: str, out: Path, **poll: str) -> list:
    return run_jobs(url, out, **poll)[1]


def run_jobs(url: str, out: Path, **poll: str) -> tuple[dict[str, Any], list[RequestRecord]]:
    data = {
        "name": "tasks",
        "target": {"base_url": url, "protocol": "agent-task"},
        "load": {"arrival": "constant", "rate": "20/s", "requests": 6},
        "request": {"prompt_tokens": 30, "max_tokens": 24, "tools": [], "poll": poll},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=out)
    return result.summary.to_dict(), list(RunDir.open(result.run_dir).iter_records())


def test_jobs_are_polled_to_their_result(fast_agent: str, tmp_path: Path) -> None:
    summary, records = run_jobs(fast_agent, tmp_path / "run", initial="20ms", max_interval="100ms")
    assert len(records) == 6 and {r.outcome for r in records} == {Outcome.OK}
    for record in records:
        assert record.polls >= 1
        assert record.output_tokens == 24
        assert {"queue_wait", "execution", "poll_overhead"} <= set(record.phases_ms)
        assert record.latency_ms is not None
        # the client cannot see the result before the job's server-side life is over
        assert record.latency_ms >= record.phases_ms["execution"]
    # the summary says what polling cost: polls per job, and the overhead it added
    jobs = summary["jobs"]
    assert jobs["count"] == jobs["succeeded"] == 6
    assert jobs["polls"] == sum(r.polls for r in records)
    assert jobs["polls_per_job"]["max"] == max(r.polls for r in records)
    overheads = sorted(r.phases_ms["poll_overhead"] for r in records)
    assert jobs["poll_overhead_ms"]["max"] == pytest.approx(overheads[-1], rel=2e-3, abs=1e-3)
    assert jobs["execution_ms"]["count"] == jobs["queue_wait_ms"]["count"] == 6


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
        times = {"created_at": 1.0, "started_at": 1.0, "finished_at": 1.0}
        return web.json_response({"id": "j1", "status": "failed", "error": error, **times})

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


def polled_app(polls_at: list[float], busy_on: int, retry_after: str) -> web.Application:
    """One job that succeeds at its 7th poll; poll number ``busy_on`` is answered 429 with
    ``retry_after``. Records when each poll arrived."""

    async def submit(_: web.Request) -> web.Response:
        return web.json_response({"id": "j", "status": "queued"}, status=202,
                                 headers={"Location": "/v1/tasks/j"})  # fmt: skip

    async def view(_: web.Request) -> web.Response:
        polls_at.append(time.monotonic())
        if len(polls_at) == busy_on:
            return web.json_response({"error": {"type": "rate_limited"}}, status=429,
                                     headers={"Retry-After": retry_after})  # fmt: skip
        status = "succeeded" if len(polls_at) >= 7 else "running"
        return web.json_response({"id": "j", "status": status, "result": {}})

    app = web.Application()
    app.router.add_post("/v1/tasks", submit)
    app.router.add_get("/v1/tasks/j", view)
    return app


def test_polls_back_off_and_wait_as_long_as_retry_after_says(
    app_server: Callable[[web.Application], str], tmp_path: Path
) -> None:
    polls_at: list[float] = []
    url = app_server(polled_app(polls_at, busy_on=3, retry_after="0.4"))
    poll = {"initial": "20ms", "multiplier": 2, "max_interval": "80ms", "jitter": 0.25}
    data = {
        "target": {"base_url": url, "protocol": "agent-task"},
        "load": {"arrival": "constant", "rate": "1/s", "requests": 1},
        "request": {"content": "work", "poll": poll},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=tmp_path / "r")
    (record,) = RunDir.open(result.run_dir).iter_records()
    assert record.outcome is Outcome.OK and record.polls == 7 == len(polls_at)
    gaps_ms = [(b - a) * 1000 for a, b in pairwise(polls_at)]
    # Planned waits after polls 1..6: 40, 80 (capped), then Retry-After 0.4 s (the 429 does
    # not advance the backoff), 80, 80, 80; each ±25% jitter. Lower bounds are exact (a
    # poll never comes early); upper bounds leave room for a busy machine.
    planned_ms = [40, 80, 400, 80, 80, 80]
    for gap, plan in zip(gaps_ms, planned_ms, strict=True):
        low = 400 if plan == 400 else plan * 0.75
        assert low - 2 <= gap <= plan * 1.25 + 250, (gaps_ms, planned_ms)
