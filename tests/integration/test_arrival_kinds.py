"""Scenario arrival kinds beyond a single rate: profiles and trace replay, end to end."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from agentload import api
from agentload.config import load_scenario
from agentload.records.rundir import RunDir


def ok_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    return app


def test_a_profile_bounds_the_run_and_shapes_the_arrivals(app_server, tmp_path: Path) -> None:
    url = app_server(ok_app())
    scenario_file = tmp_path / "profile.yaml"
    scenario_file.write_text(
        f"""
target: {{base_url: "{url}", protocol: http}}
load:
  arrival:
    kind: profile
    spacing: constant
    segments:
      - {{kind: hold, duration: 1s, rate: 10/s}}
      - {{kind: hold, duration: 1s, rate: 40/s}}
request: {{path: /}}
"""
    )
    result = api.run(load_scenario(scenario_file), out_dir=tmp_path / "run")
    records = list(RunDir.open(result.run_dir).iter_records())
    first = [r for r in records if r.intended_at < 1_000_000_000]
    second = [r for r in records if r.intended_at >= 1_000_000_000]
    assert len(first) == 10 and len(second) == 40  # constant spacing: exact counts
    assert result.summary.ok == 50
    assert result.summary.target_per_s is None  # a profile has no single target rate


def test_a_trace_next_to_the_scenario_is_replayed_faster(app_server, tmp_path: Path) -> None:
    url = app_server(ok_app())
    (tmp_path / "trace.csv").write_text("t,tokens\n0,10\n500,20\n1000,30\n2000,40\n")
    scenario_file = tmp_path / "trace.yaml"
    scenario_file.write_text(
        f"""
target: {{base_url: "{url}", protocol: http}}
load:
  arrival: {{kind: trace, path: trace.csv, time_field: t, unit: ms, speed: 2}}
request: {{path: /}}
"""
    )
    result = api.run(load_scenario(scenario_file), out_dir=tmp_path / "run")
    records = sorted(RunDir.open(result.run_dir).iter_records(), key=lambda r: r.seq)
    assert [r.intended_at for r in records] == [0, 250_000_000, 500_000_000, 1_000_000_000]
