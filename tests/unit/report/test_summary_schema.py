"""docs/summary.schema.json (JSON Schema draft 2020-12) describes real summaries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import web

from agentload import api
from agentload.config.models import Scenario

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "summary.schema.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema_rs.Draft202012Validator(schema)


def errors(validator: Any, data: object) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(data)]


def scenario(url: str, **load: object) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "schema",
            "seed": 3,
            "target": {"base_url": url, "protocol": "http", "timeouts": {"total": 2}},
            "load": {"model": "open", "arrival": "constant", "rate": 50, "duration": 0.5, **load},
            "request": {"method": "GET", "path": "/"},
        }
    )


def test_a_real_run_matches_the_schema(
    validator: Any, app_server: Callable[[web.Application], str], tmp_path: Path
) -> None:
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        calls["n"] += 1
        return web.Response(status=500 if calls["n"] % 5 == 0 else 200, text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    result = api.run(scenario(app_server(app)), out_dir=tmp_path / "run")
    data = json.loads((result.run_dir / "summary.json").read_text())
    assert data["counts"]["error"] > 0  # errors_by_kind is exercised
    assert errors(validator, data) == []
    assert (result.run_dir / "report.html").is_file()  # written for every run


def test_an_empty_run_matches_the_schema(validator: Any, tmp_path: Path) -> None:
    from agentload.analysis.summary import summarize

    data = json.loads(json.dumps(summarize([], target_rate_per_s=None).to_dict()))
    assert data["counts"]["requests"] == 0
    assert errors(validator, data) == []


def test_the_schema_rejects_a_broken_summary(validator: Any) -> None:
    from agentload.analysis.summary import summarize

    data = summarize([], target_rate_per_s=None).to_dict()
    data["counts"]["ok"] = -1
    del data["metrics"]
    assert len(errors(validator, data)) >= 2
