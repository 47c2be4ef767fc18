"""Stopping a run: twice Ctrl-C cancels in-flight work; SIGKILL loses at most ~a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from agentload.records.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]


def start_run(url: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentload",
            "run",
            str(REPO / "examples" / "openai-chat.yaml"),
            "--set",
            f"target.base_url={url}",
            "--duration",
            "60s",
            "--quiet",
            "--out",
            str(out),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_records(out: Path, minimum: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    records = out / "records.jsonl"
    while not (records.exists() and records.read_bytes().count(b"\n") >= minimum):
        assert time.monotonic() < deadline, "no records appeared"
        time.sleep(0.1)


def test_second_interrupt_cancels_in_flight_requests(fast_agent: str, tmp_path: Path) -> None:
    # Long answers (2,000 tokens) so that requests are in flight when the signals come.
    out = tmp_path / "run"
    run = start_run(fast_agent, out, "--set", "request.max_tokens=2000", "--set", "load.rate=20/s")
    time.sleep(3)
    run.send_signal(signal.SIGINT)
    time.sleep(0.3)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 3, err
    assert "Traceback" not in err
    counts = json.loads((out / "summary.json").read_text())["counts"]
    assert counts["cancelled"] > 0
    total = counts["ok"] + counts["error"] + counts["dropped"] + counts["cancelled"]
    assert counts["requests"] == total
    assert json.loads((out / "meta.json").read_text())["status"] == "interrupted"


def test_sigkill_leaves_a_readable_run_missing_at_most_a_second(
    fast_agent: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run = start_run(fast_agent, out)
    wait_for_records(out, 20)
    time.sleep(1.3)
    killed_at = time.time()
    run.kill()
    run.communicate(timeout=10)

    report = subprocess.run(
        [sys.executable, "-m", "agentload", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert report.returncode == 0, report.stderr
    assert "incomplete" in report.stdout

    meta = json.loads((out / "meta.json").read_text())
    started = datetime.fromisoformat(meta["started_at"]).timestamp()
    records = list(RunDir.open(out).iter_records())
    last_done_s = max(r.done_at for r in records) / 1e9
    # Requests finish continuously (~20/s), so the newest record on disk is within the flush
    # interval (0.5 s) plus the flush tick (0.25 s) of the kill, plus start-up slack.
    assert killed_at - started - last_done_s < 1.0
