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
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir


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
    assert verdicts["error_rate{action=http} < 1%"].ok is True
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


def shop() -> web.Application:
    """/order is slow (30 ms), /pay answers 429 or never in time (by turns), the rest 5 ms."""
    calls = {"pay": 0}

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/pay":
            calls["pay"] += 1
            if calls["pay"] % 2:
                return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
            await asyncio.sleep(1.0)  # past the 0.3 s total timeout
        await asyncio.sleep(0.03 if request.path == "/order" else 0.005)
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return application


FILTERED = [
    "p99(latency{action=order}) < 1s",
    "p99(latency{persona=buyer}) < 1s",
    "p50(latency{turn=0}) < 1s",
    "rate(error{error_kind=http_429}) < 1/s",
    "count(error{error_kind=timeout,persona=buyer}) >= 1",
    "trustworthy == true",
    "max(generator_cpu) < 10000%",
]


def test_every_filter_selects_its_records_and_the_generator_gate_fails(
    app_server: Any, tmp_path: Path
) -> None:
    url = app_server(shop())
    result = api.run(
        scenario(
            url,
            {
                "model": "sessions",
                "rate": "30/s",
                "sessions": 24,
                "turns": {"kind": "fixed", "value": 3},
                "think_time": "10ms",
            },
            target={"base_url": url, "protocol": "http", "timeouts": {"total": 0.3}},
            actions={"order": {"path": "/order"}, "pay": {"path": "/pay"}},
            mix={"request": 1},
            personas={
                "browser": {"weight": 1},
                "buyer": {"weight": 1, "flow": {"request": {"order": 1.0}, "order": {"pay": 1.0}}},
            },
            thresholds=FILTERED,
            # Limits no generator can meet: it is saturated from its first samples.
            telemetry={"interval": "100ms", "generator": {"loop_lag_limit_ms": 0.001}},
        ),
        out_dir=tmp_path / "run",
    )
    records = list(RunDir.open(result.run_dir).iter_records())
    verdicts = {v.expr: v for v in result.summary.thresholds}
    assert list(verdicts) == FILTERED

    def ok(where: Any) -> list[RequestRecord]:
        return [r for r in records if r.outcome == Outcome.OK and where(r)]

    order, buyer = ok(lambda r: r.action == "order"), ok(lambda r: r.persona == "buyer")
    first_turns = ok(lambda r: r.turn == 0)
    assert verdicts[FILTERED[0]].samples == len(order) > 0
    assert verdicts[FILTERED[0]].observed >= 30  # type: ignore[operator]
    assert len(ok(lambda r: True)) > verdicts[FILTERED[1]].samples == len(buyer) > len(order)
    assert verdicts[FILTERED[2]].samples == len(first_turns) > 0
    assert {r.turn for r in records} == {0, 1, 2}
    throttled = sum(r.error_kind == "http_429" for r in records)
    timed_out = [r for r in records if r.error_kind is not None and "timeout" in r.error_kind]
    assert throttled > 0 and timed_out and {r.persona for r in timed_out} == {"buyer"}
    duration_s = result.summary.duration_s
    assert duration_s is not None
    assert verdicts[FILTERED[3]].observed == throttled / duration_s
    assert verdicts[FILTERED[4]].observed == len(timed_out) and verdicts[FILTERED[4]].ok
    # The generator gate: saturated, so the run is not trustworthy, and the gate fails.
    assert result.summary.trustworthy is False
    assert any(r.startswith("generator saturated") for r in result.summary.untrustworthy_because)
    assert verdicts["trustworthy == true"].ok is False
    cpu = verdicts["max(generator_cpu) < 10000%"]
    assert cpu.ok is True and cpu.samples > 0
    assert exit_code(result) == 1
    # Goodput: sessions and actions; a session through /pay never meets every objective.
    goodput = result.summary.to_dict()["goodput"]
    assert goodput["sessions"]["count"] == 24
    assert goodput["per_action"]["pay"]["good"] == 0
    assert set(goodput["per_action"]) == {"request", "order", "pay"}
    # `agentload report` re-judges from the run directory: the same verdicts.
    again, _, _ = api.summarize_run_dir(result.run_dir)
    assert [(v.expr, v.ok, v.observed) for v in again.thresholds] == [
        (v.expr, v.ok, v.observed) for v in result.summary.thresholds
    ]
    assert again.untrustworthy_because == result.summary.untrustworthy_because
