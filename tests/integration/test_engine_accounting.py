"""The engine against real loopback servers: every request is accounted for exactly once."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from agentload import api
from agentload.config import Scenario, parse_scenario
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir
from tests.conftest import free_port


def scenario(
    base_url: str, load: dict[str, Any], request: dict[str, Any], **target: Any
) -> Scenario:
    data = {
        "name": "t",
        "seed": 1,
        "target": {"base_url": base_url, "protocol": "http", **target},
        "load": load,
        "request": request,
    }
    return parse_scenario(yaml.safe_dump(data), source="test.yaml")


def records(run_dir: Path) -> list[RequestRecord]:
    return list(RunDir.open(run_dir).iter_records())


def slow_app(delay_s: float) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def assert_accounted(recs: list[RequestRecord], expected: int) -> Counter[str]:
    outcomes = Counter(r.outcome.value for r in recs)
    assert len(recs) == expected
    assert sorted(r.seq for r in recs) == list(range(expected))
    assert sum(outcomes.values()) == expected
    return outcomes


def test_open_loop_counts_add_up_and_match_the_summary(app_server, tmp_path: Path) -> None:
    url = app_server(slow_app(0.0))
    result = api.run(
        scenario(url, {"arrival": "constant", "rate": "200/s", "requests": 100}, {"path": "/x"}),
        out_dir=tmp_path / "run",
    )
    recs = records(result.run_dir)
    outcomes = assert_accounted(recs, 100)
    assert outcomes["ok"] == 100
    summary = result.summary.to_dict()
    assert summary["counts"]["requests"] == 100
    assert summary["counts"]["ok"] == 100
    for rec in recs:
        assert rec.sent_at is not None and rec.first_byte_at is not None
        assert rec.intended_at <= rec.sent_at <= rec.first_byte_at <= rec.done_at
        assert rec.http_status == 200
    # constant arrivals at 200/s: intended starts 5 ms apart
    intended = sorted(r.intended_at for r in recs)
    assert intended[1] - intended[0] == 5_000_000


def test_in_flight_cap_drops_with_time_instead_of_queueing(app_server, tmp_path: Path) -> None:
    url = app_server(slow_app(0.5))
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "100/s", "duration": "1s", "max_in_flight": 5},
            {"path": "/slow"},
        ),
        out_dir=tmp_path / "run",
    )
    recs = records(result.run_dir)
    outcomes = assert_accounted(recs, 100)
    assert outcomes["dropped"] > 50
    assert outcomes["ok"] + outcomes["dropped"] == 100
    for rec in recs:
        if rec.outcome is Outcome.DROPPED:
            assert rec.sent_at is None
            assert rec.done_at >= rec.intended_at
    assert result.summary.to_dict()["counts"]["dropped"] == outcomes["dropped"]


def test_refused_port_is_classified_and_the_run_finishes(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = api.run(
        scenario(url, {"arrival": "poisson", "rate": "50/s", "requests": 20}, {"path": "/"}),
        out_dir=tmp_path / "run",
    )
    assert time.monotonic() - started < 10
    recs = records(result.run_dir)
    assert_accounted(recs, 20)
    assert {r.error_kind for r in recs} == {ErrorKind.CONNECT_REFUSED}
    assert all(r.first_byte_at is None for r in recs)


def test_hanging_server_hits_first_byte_timeout_within_bounds(app_server, tmp_path: Path) -> None:
    url = app_server(slow_app(30.0))
    started = time.monotonic()
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "20/s", "requests": 10, "grace": "5s"},
            {"path": "/hang"},
            timeouts={"connect": "1s", "first_byte": "300ms", "total": "5s"},
        ),
        out_dir=tmp_path / "run",
    )
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 0.3 + 2.0  # schedule + timeout + slack
    recs = records(result.run_dir)
    assert_accounted(recs, 10)
    assert {r.error_kind for r in recs} == {ErrorKind.FIRST_BYTE_TIMEOUT}
    for rec in recs:
        assert rec.sent_at is not None
        assert 0.25 <= (rec.done_at - rec.sent_at) / 1e9 < 1.5


def test_status_codes_become_error_kinds(app_server, tmp_path: Path) -> None:
    statuses = [200, 404, 429, 503]

    async def handler(request: web.Request) -> web.Response:
        seq = int(request.match_info["seq"])
        return web.Response(status=statuses[seq % 4], text=f"status for {seq}")

    app = web.Application()
    app.router.add_get("/s/{seq}", handler)
    url = app_server(app)
    result = api.run(
        scenario(
            url, {"arrival": "constant", "rate": "100/s", "requests": 8}, {"path": "/s/{{seq}}"}
        ),
        out_dir=tmp_path / "run",
    )
    kinds = Counter(r.error_kind for r in records(result.run_dir))
    assert kinds == {None: 2, ErrorKind.HTTP_4XX: 2, ErrorKind.HTTP_429: 2, ErrorKind.HTTP_5XX: 2}
    errors = result.summary.to_dict()["errors_by_kind"]
    assert errors == {"http_4xx": 2, "http_429": 2, "http_5xx": 2}


def test_grace_period_end_cancels_and_records_in_flight_work(app_server, tmp_path: Path) -> None:
    url = app_server(slow_app(5.0))
    started = time.monotonic()
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "10/s", "duration": "0.5s", "grace": "0.3s"},
            {"path": "/slow"},
        ),
        out_dir=tmp_path / "run",
    )
    assert time.monotonic() - started < 3
    recs = records(result.run_dir)
    outcomes = assert_accounted(recs, 5)
    assert outcomes["cancelled"] == 5
    assert all(r.error_message and "grace" in r.error_message for r in recs)


def test_closed_model_users_each_wait_for_their_answer(app_server, tmp_path: Path) -> None:
    url = app_server(slow_app(0.05))
    result = api.run(
        scenario(url, {"model": "closed", "users": 3, "requests": 12}, {"path": "/"}),
        out_dir=tmp_path / "run",
    )
    recs = records(result.run_dir)
    assert_accounted(recs, 12)
    by_user: dict[int | None, list[RequestRecord]] = {}
    for rec in recs:
        by_user.setdefault(rec.user, []).append(rec)
    assert set(by_user) == {0, 1, 2}
    for user_recs in by_user.values():
        user_recs.sort(key=lambda r: r.intended_at)
        for before, after in itertools.pairwise(user_recs):
            assert after.intended_at >= before.done_at  # closed loop: no overlap per user


def test_headers_then_stall_is_a_total_timeout(app_server, tmp_path: Path) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    url = app_server(app)
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "10/s", "requests": 3},
            {"path": "/"},
            timeouts={"first_byte": "1s", "total": "400ms"},
        ),
        out_dir=tmp_path / "run",
    )
    recs = records(result.run_dir)
    assert {r.error_kind for r in recs} == {ErrorKind.TOTAL_TIMEOUT}
    for rec in recs:
        assert rec.first_byte_at is not None  # headers came; the body never finished
        assert rec.sent_at is not None
        assert 0.35 <= (rec.done_at - rec.sent_at) / 1e9 < 1.0


def test_total_timeout_counts_from_send_even_before_headers(app_server, tmp_path: Path) -> None:
    # total (300 ms) shorter than first_byte (5 s): the total limit is what fires.
    url = app_server(slow_app(30.0))
    result = api.run(
        scenario(
            url,
            {"arrival": "constant", "rate": "10/s", "requests": 2},
            {"path": "/"},
            timeouts={"first_byte": "5s", "total": "300ms"},
        ),
        out_dir=tmp_path / "run",
    )
    assert {r.error_kind for r in records(result.run_dir)} == {ErrorKind.TOTAL_TIMEOUT}


def test_a_stream_held_open_after_done_is_a_complete_answer(app_server, tmp_path: Path) -> None:
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
    end = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk)
        await response.write(chunk)
        await response.write(end)
        await asyncio.sleep(30)  # a proxy that never closes
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    url = app_server(app)
    data = {
        "target": {"base_url": url, "protocol": "openai-chat", "timeouts": {"total": "5s"}},
        "load": {"arrival": "constant", "rate": "10/s", "requests": 2},
        "request": {"prompt_tokens": 8, "max_tokens": 2},
    }
    started = time.monotonic()
    result = api.run(
        parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=tmp_path / "run"
    )
    assert time.monotonic() - started < 3
    recs = records(result.run_dir)
    assert [r.outcome for r in recs] == [Outcome.OK, Outcome.OK]
    assert all(r.chunks == 2 and r.tokens_approx for r in recs)
