"""Thresholds through the CLI: validate gives file:line, run exits 1, report re-evaluates."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import web


def agentload(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentload", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def scenario_text(base_url: str, thresholds: str) -> str:
    return f"""\
name: gated
target: {{base_url: "{base_url}", protocol: http}}
load: {{arrival: constant, rate: 50/s, requests: 40}}
request: {{path: /x}}
thresholds:
{thresholds}"""


def app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return application


def test_validate_points_at_the_bad_expression(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        scenario_text(
            "http://127.0.0.1:9",
            "  - p99(latency) < 2s\n  - expr: p99(ttft) < 800\n    abort_on_fail: true\n",
        )
    )
    proc = agentload("validate", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    output = proc.stdout + proc.stderr
    assert f"{path}:7: thresholds[1].expr: column 13: a duration needs a unit" in output
    assert "Traceback" not in output


def test_run_exits_1_on_a_failed_threshold_and_report_shows_it(
    app_server: Any, tmp_path: Path
) -> None:
    url = app_server(app())
    path = tmp_path / "gated.yaml"
    path.write_text(scenario_text(url, "  - p99(latency) < 5s\n  - p50(latency) < 1ms\n"))
    proc = agentload("run", str(path), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "thresholds" in proc.stdout and "FAIL" in proc.stdout and "pass" in proc.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [v["ok"] for v in summary["thresholds"]] == [True, False]
    report = agentload("report", "run", "--json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert [v["ok"] for v in json.loads(report.stdout)["thresholds"]] == [True, False]


def test_run_exits_0_when_every_threshold_passes(app_server: Any, tmp_path: Path) -> None:
    url = app_server(app())
    path = tmp_path / "gated.yaml"
    path.write_text(scenario_text(url, "  - p99(latency) < 5s\n  - error_rate < 1%\n"))
    proc = agentload("run", str(path), "--out", "run", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_validate_rejects_abort_on_fail_on_the_trust_gate(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        scenario_text(
            "http://127.0.0.1:9", "  - expr: trustworthy == true\n    abort_on_fail: true\n"
        )
    )
    proc = agentload("validate", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    output = proc.stdout + proc.stderr
    assert f"{path}:6: thresholds[0]: " in output and "judged when the run ends" in output
    assert "Traceback" not in output


def test_the_trust_gate_fails_a_saturated_run_and_the_markdown_says_why(
    app_server: Any, tmp_path: Path
) -> None:
    url = app_server(app())
    path = tmp_path / "gated.yaml"
    text = scenario_text(url, "  - p99(latency) < 5s\n  - trustworthy == true\n")
    # An event-loop lag limit no generator meets: saturated from its first samples.
    path.write_text(text + "telemetry: {interval: 100ms, generator: {loop_lag_limit_ms: 0.001}}\n")
    proc = agentload("run", str(path), "--out", "run", "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trustworthy"] is False
    assert any(r.startswith("generator saturated") for r in summary["trust_reasons"])
    assert [v["ok"] for v in summary["thresholds"]] == [True, False]
    report = agentload("report", "run", "--md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "| threshold | observed | limit | margin | verdict |" in report.stdout
    (row,) = [line for line in report.stdout.splitlines() if "`trustworthy == true`" in line]
    assert row.startswith("| `trustworthy == true` | false | true | - | ❌ FAIL (")
    assert "generator saturated from t=" in row
    assert "**⚠️ NOT TRUSTWORTHY: " in report.stdout
