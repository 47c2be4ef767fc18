"""Thresholds on real runs against a loopback server: verdicts, exit codes, abort_on_fail."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from agentload import api
from agentload.cli.run import exit_code
from agentload.config import Scenario, parse_scenario


def scenario(base_url: str, load: dict[str, Any], **extra: Any) -> Scenario:
    data = {
        "name": "t",
        "seed": 1,
        "target": {"base_url": base_url, "protocol": "http"},
        "load": load,
        "request": {"path": "/x"},
        **extra,
    }
    return parse_scenario(yaml.safe_dump(data), source="test.yaml")


def app(delay_s: float) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return application


def test_passing_and_failing_thresholds_give_verdicts_and_exit_1(
    app_server: Any, tmp_path: Path
) -> None:
    url = app_server(app(0.02))
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "100/s", "requests": 150},
            thresholds=["p99(latency) < 2s", "p50(latency) < 1ms", "session_success_rate > 99%"],
            targets={"http": {"rate": "50/s", "error_rate": "1%"}},
        ),
        out_dir=tmp_path / "run",
    )
    assert result.status == "complete"
    verdicts = {v.expr: v for v in result.summary.thresholds}
    passing, failing = verdicts["p99(latency) < 2s"], verdicts["p50(latency) < 1ms"]
    assert passing.ok is True and passing.observed is not None and passing.observed >= 20
    assert failing.ok is False and failing.margin is not None and failing.margin < 0
    assert verdicts["session_success_rate > 99%"].ok is None  # not available, not passed
    assert verdicts["rate(ok{action=http}) >= 47.5/s"].ok is True
    assert verdicts["error_rate{action=http} < 0.01"].ok is True
    assert exit_code(result) == 1
    stored = json.loads((result.run_dir / "summary.json").read_text())
    assert [v["expr"] for v in stored["thresholds"]] == list(verdicts)
    # Objectives per request: under 2 s and under 1 ms; no 20 ms answer meets both.
    assert stored["goodput"]["objectives"] == ["p99(latency) < 2s", "p50(latency) < 1ms"]
    assert stored["goodput"]["good"] == 0 and stored["goodput"]["per_s"] == 0.0
    # `agentload report` re-evaluates from scenario.yaml + records: the same verdicts.
    again, _, _ = api.summarize_run_dir(result.run_dir)
    assert [(v.expr, v.ok) for v in again.thresholds] == [(v.expr, v.ok) for v in verdicts.values()]


def test_passing_thresholds_exit_0(app_server: Any, tmp_path: Path) -> None:
    url = app_server(app(0.0))
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "100/s", "requests": 50},
            thresholds=["p99(latency) < 5s", "error_rate < 1%"],
        ),
        out_dir=tmp_path / "run",
    )
    assert [v.ok for v in result.summary.thresholds] == [True, True]
    assert exit_code(result) == 0


def test_abort_on_fail_stops_a_30s_run_after_its_delay(app_server: Any, tmp_path: Path) -> None:
    url = app_server(app(0.02))
    started = time.monotonic()
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "50/s", "duration": "30s"},
            thresholds=[
                "p99(latency) < 5s",
                {"expr": "p50(latency) < 1ms", "abort_on_fail": True, "delay": "1s"},
            ],
        ),
        out_dir=tmp_path / "run",
    )
    elapsed_s = time.monotonic() - started
    assert elapsed_s < 1.0 + 1.0, elapsed_s
    assert result.status == "aborted" and result.aborted_by == "p50(latency) < 1ms"
    assert exit_code(result) == 1
    aborting = result.summary.thresholds[1]
    assert aborting.ok is False and aborting.aborted_run
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["status"] == "aborted" and meta["aborted_by"] == "p50(latency) < 1ms"
    assert 1.0 <= meta["aborted_at_s"] < 1.5
    # Results kept: the records are there and every one is accounted for.
    assert 40 <= result.summary.requests <= 80
    assert result.summary.requests == result.summary.ok + result.summary.cancelled
    again, _, _ = api.summarize_run_dir(result.run_dir)
    assert again.thresholds[1].aborted_run and again.thresholds[1].ok is False
