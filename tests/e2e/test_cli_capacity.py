"""``agentload capacity`` as a user runs it, against a target of known capacity: one request
at a time, 20 ms each (50 requests/s)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

SERVICE_S = 0.02


def agentload(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentload", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def serial_app() -> web.Application:
    lock = asyncio.Lock()

    async def handler(request: web.Request) -> web.Response:
        async with lock:
            await asyncio.sleep(SERVICE_S)
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return application


def write_scenario(path: Path, url: str, threshold: str, capacity: str) -> Path:
    path.write_text(
        f"""\
name: known
target: {{base_url: "{url}", protocol: http}}
load: {{arrival: constant, rate: 1/s, duration: 1s}}
request: {{path: /x}}
thresholds:
  - {threshold}
capacity: {capacity}
"""
    )
    return path


def test_capacity_of_a_serial_server(
    tmp_path: Path, app_server: Callable[[web.Application], str]
) -> None:
    url = app_server(serial_app())
    spec = (
        "{start: 10/s, max: 400/s, resolution: 20%, step_duration: 1.5s, warmup: 0.5s, "
        "budget: 40s, repeats: 2}"
    )
    path = write_scenario(tmp_path / "s.yaml", url, "p99(latency) < 200ms", spec)
    proc = agentload("capacity", str(path), "--out", "cap", cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "capacity:" in output and "first to break: p99(latency) < 200ms" in output
    assert "time:" in output and "probe" in output
    doc = json.loads((tmp_path / "cap" / "capacity.json").read_text())
    # 50/s is the service capacity; a 200 ms p99 allows a little backlog above it.
    assert 35 <= doc["capacity"] <= 65, doc["capacity"]
    assert doc["lower"] <= doc["capacity"] < doc["upper"] <= 1.3 * doc["capacity"]
    assert doc["elapsed_s"] <= 45
    assert set(doc["phases_s"]) == {"probe", "bisect", "repeat"}
    first = doc["steps"][0]
    assert first["value"] == 10 and first["verdict"] == "pass"
    # Every step is an ordinary run directory that `agentload report` reads.
    step_dir = tmp_path / "cap" / first["run_dir"]
    assert agentload("report", str(step_dir), cwd=tmp_path).returncode in (0, 1)
    assert (tmp_path / "cap" / "capacity.md").read_text().startswith("# Capacity: known")
    html = (tmp_path / "cap" / "capacity.html").read_text()
    assert "<script" in html and "capacity" in html
    again = agentload("report", str(tmp_path / "cap"), "--md", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("# Capacity: known")


def test_exit_codes_when_even_the_start_fails_and_for_bad_input(
    tmp_path: Path, app_server: Callable[[web.Application], str]
) -> None:
    url = app_server(serial_app())
    spec = "{start: 5/s, max: 50/s, step_duration: 1s, warmup: 0.5s, budget: 20s}"
    path = write_scenario(tmp_path / "s.yaml", url, "p99(latency) < 5ms", spec)
    proc = agentload("capacity", str(path), "--out", "cap", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "below_start" and doc["capacity"] is None
    # Never offered more than the failing start, which was checked once more.
    assert [step["value"] for step in doc["steps"]] == [5, 5]

    mismatch = write_scenario(tmp_path / "m.yaml", url, "p99(latency) < 1s", "{vary: users}")
    proc = agentload("capacity", str(mismatch), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{mismatch}:" in proc.stderr
    assert "capacity.vary: users needs load.model: closed" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = agentload("capacity", str(path), "--budget", "soon", cwd=tmp_path)
    assert proc.returncode == 2 and "--budget" in proc.stderr
    proc = agentload("capacity", str(path), "--budget", "1s", cwd=tmp_path)
    assert proc.returncode == 2 and "shorter than one step" in proc.stderr

    bare = tmp_path / "bare.yaml"
    bare.write_text(path.read_text().replace("thresholds:\n  - p99(latency) < 5ms\n", ""))
    proc = agentload("capacity", str(bare), cwd=tmp_path)
    assert proc.returncode == 2 and "needs thresholds" in proc.stderr


def batching_app() -> web.Application:
    """Every request in flight slows every new one, as a batch does on an inference engine:
    a request that arrives with N in flight takes 10 ms + 5 ms x N. N closed users see about
    10 + 5N ms, so p95 < 100 ms holds up to ~17 users, while throughput keeps growing."""
    in_flight = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal in_flight
        in_flight += 1
        try:
            await asyncio.sleep(0.010 + 0.005 * in_flight)
        finally:
            in_flight -= 1
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return application


def write_users_scenario(path: Path, url: str, capacity: str) -> Path:
    path.write_text(
        f"""\
name: users
target: {{base_url: "{url}", protocol: http}}
load: {{model: closed, users: 1, duration: 1s}}
request: {{path: /x}}
thresholds:
  - p95(latency) < 100ms
capacity: {capacity}
"""
    )
    return path


def test_adaptive_first_estimate_saves_steps(
    tmp_path: Path, app_server: Callable[[web.Application], str]
) -> None:
    """Started where an adaptive run settled, the search needs fewer judged steps than the
    probe from 1 user, and finds the same capacity (~17 users on the batching server)."""
    url = app_server(batching_app())
    common = "vary: users, start: 1, max: 64, resolution: 10%, step_duration: 1s, warmup: 0.3s"
    common += ", budget: 90s, repeats: 2"
    docs = {}
    for name, extra in (("plain", ""), ("estimated", ", first_estimate: adaptive")):
        path = write_users_scenario(tmp_path / f"{name}.yaml", url, f"{{{common}{extra}}}")
        proc = agentload("capacity", str(path), "--out", name, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        docs[name] = json.loads((tmp_path / name / "capacity.json").read_text())
        if name == "estimated":
            assert "first estimate (adaptive, holding p95(latency) < 100ms)" in proc.stdout
    plain, estimated = docs["plain"], docs["estimated"]
    seen = {k: ([s["value"] for s in d["steps"]], d["capacity"]) for k, d in docs.items()}
    assert plain["first_estimate"] is None and "estimate" not in plain["phases_s"]
    first = estimated["first_estimate"]
    assert first["method"] == "adaptive" and first["run_dir"] == "steps/00-adaptive"
    assert 10 <= first["value"] <= 26, (first, seen)  # near the ~17 users that hold
    assert estimated["steps"][0]["value"] == first["first_step"]
    assert estimated["phases_s"]["estimate"] > 0
    # The adaptive run is an ordinary run directory with its trajectory.
    assert (tmp_path / "estimated" / "steps" / "00-adaptive" / "adaptive.jsonl").is_file()
    for doc in (plain, estimated):
        assert 12 <= doc["capacity"] <= 20, seen
        assert doc["status"] == "found"
    assert abs(plain["capacity"] - estimated["capacity"]) <= 3, seen
    # Fewer judged steps; the judged steps still decide (bounds from confident calls).
    assert len(estimated["steps"]) < len(plain["steps"]), seen
    assert estimated["lower"] <= estimated["capacity"] < estimated["upper"]


def test_adaptive_first_estimate_needs_a_latency_threshold(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        """\
name: bad
target: {base_url: "http://127.0.0.1:9", protocol: http}
load: {model: closed, users: 1, duration: 1s}
request: {path: /x}
thresholds: ["error_rate < 1%", "p99(latency{action=x}) < 1s"]
capacity: {vary: users, max: 8, first_estimate: adaptive}
"""
    )
    proc = agentload("capacity", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "capacity.first_estimate: adaptive needs a latency threshold" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # refused before anything ran
    wrong = path.read_text().replace("vary: users, max: 8", "vary: sessions_rate")
    path.write_text(wrong)
    proc = agentload("capacity", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "vary: users or rate" in proc.stderr, proc.stderr
