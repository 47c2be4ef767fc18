"""Stopping real runs: SIGTERM once or twice, and SIGKILL at random moments.

Once: sending stops, in-flight requests finish, everything is written, status interrupted.
Twice: in-flight requests are cancelled (and recorded so), everything is written.
SIGKILL: ``agentload report`` still reads the run directory, calls it incomplete, and at
most about the last second of records is missing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from agentload.records.rundir import RunDir
from tests.hostile_server import HostileServer, hostile_server


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def start(
    server: HostileServer, tmp_path: Path, behaviour: str
) -> tuple[subprocess.Popen[str], Path]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "signals",
                "target": {"base_url": server.url, "protocol": "http"},
                "load": {"arrival": "constant", "rate": "50/s", "duration": "60s"},
                "request": {"path": f"/{behaviour}"},
            }
        )
    )
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentload", "run", str(scenario), "--quiet", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, out


def wait_for_records(proc: subprocess.Popen[str], out: Path, minimum: int) -> None:
    deadline = time.monotonic() + 30
    records = out / "records.jsonl"
    while not (records.exists() and records.read_bytes().count(b"\n") >= minimum):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no records appeared"
        time.sleep(0.05)


def accounted(out: Path) -> dict[str, int]:
    counts: dict[str, int] = json.loads((out / "summary.json").read_text())["counts"]
    records = list(RunDir.open(out).iter_records())
    assert sorted(r.seq for r in records) == list(range(len(records)))
    assert counts["requests"] == len(records)
    assert (
        counts["requests"]
        == counts["ok"] + counts["error"] + counts["dropped"] + counts["cancelled"]
    )
    return counts


def test_one_sigterm_lets_in_flight_requests_finish_and_writes_everything(
    server: HostileServer, tmp_path: Path
) -> None:
    # Each answer trickles for 0.25 s, so about a dozen are in flight at the signal.
    proc, out = start(server, tmp_path, "slow_bytes")
    wait_for_records(proc, out, 10)
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 15  # the in-flight trickles end within ~1 s
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    assert json.loads((out / "meta.json").read_text())["status"] == "interrupted"
    counts = accounted(out)
    assert counts["cancelled"] == 0 and counts["ok"] == counts["requests"] > 10


def test_a_second_sigterm_cancels_and_still_writes_everything(
    server: HostileServer, tmp_path: Path
) -> None:
    proc, out = start(server, tmp_path, "hang")  # nothing ever finishes on its own
    deadline = time.monotonic() + 30
    while server.state.requests["hang"] < 10:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 10
    assert proc.returncode == 3, err
    assert json.loads((out / "meta.json").read_text())["status"] == "interrupted"
    counts = accounted(out)
    assert counts["cancelled"] == counts["requests"] >= 10


def test_sigkill_at_random_moments_leaves_a_readable_run_missing_at_most_a_second(
    server: HostileServer, tmp_path: Path
) -> None:
    seed = random.randrange(1_000_000)
    moments = random.Random(seed).sample([i / 10 for i in range(20)], 3)
    for index, moment_s in enumerate(moments):
        folder = tmp_path / str(index)
        folder.mkdir()
        proc, out = start(server, folder, "ok")
        wait_for_records(proc, out, 1)
        time.sleep(moment_s)
        killed_at = time.time()
        proc.kill()
        proc.communicate(timeout=10)
        report = subprocess.run(
            [sys.executable, "-m", "agentload", "report", str(out)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        where = f"seed {seed}, killed {moment_s:.1f}s after the first records"
        assert report.returncode in (0, 1), f"{where}: {report.stderr}"
        assert "incomplete" in report.stdout, where
        meta = json.loads((out / "meta.json").read_text())
        started = datetime.fromisoformat(meta["started_at"]).timestamp()
        records = list(RunDir.open(out).iter_records())
        assert sorted(r.seq for r in records) == list(range(len(records))), where
        last_done_s = max(r.done_at for r in records) / 1e9
        # Requests end every 20 ms; records reach the disk every 0.5 s (checked every 0.25 s).
        assert killed_at - started - last_done_s < 1.0, where
