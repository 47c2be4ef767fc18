"""target.unreachable_abort_after: a dead target stops the run early, as its own outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from agentload import api
from agentload.config import Scenario, parse_scenario
from agentload.engine.breaker import UnreachableBreaker
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from agentload.testing import make_record
from tests.conftest import free_port
from tests.hostile_server import hostile_server

ABORT_AFTER_S = 1.0


def breaker_scenario(base_url: str, behaviour: str = "ok", **load: Any) -> dict[str, Any]:
    return {
        "name": "breaker",
        "target": {
            "base_url": base_url,
            "protocol": "http",
            "timeouts": {"connect": "0.5s", "first_byte": "1s", "total": "1s"},
            "unreachable_abort_after": f"{ABORT_AFTER_S}s",
        },
        "load": {"arrival": "constant", "rate": "40/s", "duration": "30s", **load},
        "request": {"path": f"/{behaviour}"},
    }


def parsed(data: dict[str, Any]) -> Scenario:
    return parse_scenario(yaml.safe_dump(data), source="breaker.yaml")


def test_an_unreachable_target_aborts_the_run_with_its_own_status(tmp_path: Path) -> None:
    out = tmp_path / "run"
    started = time.monotonic()
    result = api.run(parsed(breaker_scenario(f"http://127.0.0.1:{free_port()}")), out_dir=out)
    elapsed_s = time.monotonic() - started
    # Stops after ~1 s of connect failures (checked every 0.1 s), not after 30 s; the
    # in-flight refusals end at once. Generous slack for a loaded machine.
    assert elapsed_s < ABORT_AFTER_S + 4.0
    assert result.status == "aborted_unreachable"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "aborted_unreachable"
    assert "unreachable for 1s" in meta["abort_reason"]
    assert meta["aborted_at_s"] - meta["unreachable_since_s"] >= ABORT_AFTER_S
    summary = json.loads((out / "summary.json").read_text())
    assert any("run aborted: target unreachable" in w for w in summary["warnings"])
    records = list(RunDir.open(out).iter_records())
    assert sorted(r.seq for r in records) == list(range(len(records)))
    assert {r.error_kind for r in records} == {ErrorKind.CONNECT_REFUSED}
    assert summary["counts"]["requests"] == len(records) >= 30


def test_the_cli_exits_1_and_says_why(tmp_path: Path) -> None:
    scenario = tmp_path / "dead.yaml"
    scenario.write_text(yaml.safe_dump(breaker_scenario(f"http://127.0.0.1:{free_port()}")))
    proc = subprocess.run(
        [sys.executable, "-m", "agentload", "run", str(scenario), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "run aborted: the target was unreachable" in proc.stdout
    assert "Traceback" not in proc.stderr
    report = subprocess.run(
        [sys.executable, "-m", "agentload", "report", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert report.returncode == 0, report.stderr
    assert "aborted_unreachable" in report.stdout
    assert "target unreachable" in report.stdout


def test_a_target_that_answers_with_errors_is_reachable(tmp_path: Path) -> None:
    with hostile_server() as server:
        data = breaker_scenario(server.url, "server_error", duration="2s")
        result = api.run(parsed(data), out_dir=tmp_path / "run")
    assert result.status == "complete"
    assert result.summary.errors_by_kind == {"http_5xx": result.summary.requests}


def test_one_answer_resets_the_unreachable_clock() -> None:
    breaker = UnreachableBreaker(1.0)
    refused = {"outcome": Outcome.ERROR, "error_kind": ErrorKind.CONNECT_REFUSED}
    breaker.add(make_record(sent_at=0, first_byte_at=None, **refused))
    assert not breaker.due(900_000_000)
    breaker.add(make_record(sent_at=950_000_000, done_at=960_000_000))  # an answer
    assert not breaker.due(1_500_000_000)
    breaker.add(make_record(sent_at=1_600_000_000, first_byte_at=None, **refused))
    breaker.add(make_record(outcome=Outcome.DROPPED, sent_at=None))  # says nothing
    assert not breaker.due(2_500_000_000)
    assert breaker.due(2_600_000_000) and breaker.tripped
    assert breaker.meta()["unreachable_since_s"] == 1.6
