"""The run clock starts when sending does: a slow set-up (files, client, imports) must not
show up as schedule lag of the first arrivals."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agentload import api
from agentload.config import load_scenario
from agentload.records.rundir import META_FILE, RunDir

SETUP_S = 0.3  # far above any lag a busy test machine adds to a 20/s run


def ok_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    return app


def test_a_slow_set_up_is_not_schedule_lag(
    app_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = app_server(ok_app())
    original = api.client_for

    def slow_client_for(*args: Any, **kwargs: Any) -> Any:
        time.sleep(SETUP_S)  # a set-up step that takes long, after the clock was created
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "client_for", slow_client_for)
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(
        f'target: {{base_url: "{url}", protocol: http}}\n'
        "load: {arrival: constant, rate: 20/s, duration: 0.5s}\n"
        "request: {path: /}\n"
    )
    before_s = time.time()
    result = api.run(load_scenario(scenario_file), out_dir=tmp_path / "run")
    records = sorted(RunDir.open(result.run_dir).iter_records(), key=lambda r: r.seq)
    assert len(records) == 10 and all(r.sent_at is not None for r in records)
    worst_lag_ms = max(r.schedule_lag_ms or 0.0 for r in records)
    assert worst_lag_ms < SETUP_S * 1000 / 2
    # The wall time of the run clock's zero is after the set-up, as the records are.
    meta = json.loads((result.run_dir / META_FILE).read_text())
    started_s = datetime.fromisoformat(meta["started_at"]).timestamp()
    assert started_s >= before_s + SETUP_S
