"""Outcome classification of error responses (defaults and scenario rules) and the
session-affinity header, against a small loopback server."""

from __future__ import annotations

from collections import defaultdict
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

pytestmark = pytest.mark.timeout(60)
Serve = Callable[[web.Application], str]


def failing_app(seen: dict[str, list[str]]) -> web.Application:
    async def oom(_: web.Request) -> web.Response:
        return web.Response(status=507, text="insufficient storage")

    async def cuda(_: web.Request) -> web.Response:
        return web.Response(status=500, text="RuntimeError: CUDA out of memory. Tried to ...")

    async def lost(_: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "context_lost", "message": "gone"}}, status=409)

    async def custom(_: web.Request) -> web.Response:
        return web.json_response({"detail": {"reason": "kv_full"}}, status=503)

    async def plain(_: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def echo(request: web.Request) -> web.Response:
        seen[request.headers.get("X-Session-Id", "-")].append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    for path, handler in (
        ("/oom", oom),
        ("/cuda", cuda),
        ("/lost", lost),
        ("/custom", custom),
        ("/plain", plain),
        ("/echo", echo),
    ):
        app.router.add_post(path, handler)  # fmt: skip
    return app


def test_error_bodies_map_to_the_configured_kinds(app_server: Serve, tmp_path: Path) -> None:
    url = app_server(failing_app(defaultdict(list)))
    names = ("oom", "cuda", "lost", "custom")
    data: dict[str, Any] = {
        "seed": 1,
        "target": {
            "base_url": url,
            "protocol": "http",
            "classify": [{"kind": "model_oom", "json_path": "detail.reason", "equals": "kv_full"}],
        },
        "load": {"arrival": "constant", "rate": "100/s", "requests": 40},
        "request": {"method": "POST", "path": "/plain"},
        "actions": {n: {"method": "POST", "path": f"/{n}"} for n in names},
        "mix": dict.fromkeys(("request", *names), 1),
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    kinds: dict[str, set[ErrorKind | None]] = defaultdict(set)
    for record in RunDir.open(result.run_dir).iter_records():
        assert record.outcome is Outcome.ERROR
        kinds[record.action].add(record.error_kind)
    assert dict(kinds) == {
        "oom": {ErrorKind.MODEL_OOM},  # status 507
        "cuda": {ErrorKind.MODEL_OOM},  # the PyTorch message
        "lost": {ErrorKind.CONTEXT_LOST},  # error.code
        "custom": {ErrorKind.MODEL_OOM},  # the scenario's own rule
        "request": {ErrorKind.HTTP_5XX},  # nothing matched: the status decides
    }


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_each_turn_names_its_session_for_routers(
    app_server: Serve, tmp_path: Path, transport: str
) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    url = app_server(failing_app(seen))
    data = {
        "seed": 1,
        "target": {"base_url": url, "protocol": "http", "affinity_header": "X-Session-Id",
                   "transport": transport},
        "load": {"model": "sessions", "rate": "50/s", "sessions": 5, "turns": 3,
                 "think_time": "5ms"},
        "request": {"method": "POST", "path": "/echo", "body": {"q": "{{seq}}"}},
    }  # fmt: skip
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    assert result.summary.ok == 15
    assert {k: len(v) for k, v in seen.items()} == {f"s{i}": 3 for i in range(5)}


def test_rules_need_every_condition_and_tolerate_any_body() -> None:
    from agentload.clients.classify import classify_body
    from agentload.config.sessions import ClassifyRule

    both = ClassifyRule(kind="context_lost", status=410, body_regex="session")
    assert classify_body(410, b"session expired", [both]) is ErrorKind.CONTEXT_LOST
    assert classify_body(404, b"session expired", [both]) is None
    assert classify_body(410, b"gone", [both]) is None
    nested = ClassifyRule(kind="model_oom", json_path="errors.0.oom", equals=True)
    assert classify_body(500, b'{"errors": [{"oom": true}]}', [nested]) is ErrorKind.MODEL_OOM
    assert classify_body(500, b'{"errors": [{"oom": "true"}]}', [nested]) is None
    for junk in (b"", b"\xff\xfe", b'{"errors": ', b"[1, 2]", b'"text"'):
        assert classify_body(500, junk, [nested]) is None
    # The defaults: the reference agent's and common servers' out-of-memory answers.
    assert classify_body(503, b'{"error": {"type": "model_oom"}}') is ErrorKind.MODEL_OOM
    assert classify_body(500, b"torch.OutOfMemoryError: ...") is ErrorKind.MODEL_OOM
    assert classify_body(500, b"internal error") is None
    with pytest.raises(ValueError, match="json_path and equals go together"):
        ClassifyRule(kind="model_oom", json_path="error.code")
