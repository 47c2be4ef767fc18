"""``agentload run`` with telemetry, personas and thresholds together, on a terminal (a pty,
so the live display is drawn as a user sees it), then ``probe --out`` into the run and the
reports that include it. Against the reference agent, a few seconds."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.test_cli import agentload, assert_no_traceback

pytestmark = pytest.mark.timeout(180)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def scenario(url: str) -> str:
    return f"""\
name: smoke
seed: 3
target: {{base_url: "{url}", protocol: agent-session, client_phases: true}}
load:
  model: sessions
  arrival: constant
  rate: 4/s
  duration: 4s
  turns: {{median: 2, sigma: 0, max: 2}}
  think_time: 50ms
request: {{prompt_tokens: 40, max_tokens: 16}}
personas:
  browser: {{weight: 3}}
  buyer:
    weight: 1
    request: {{content: "Find me running shoes under 100 euros.", max_tokens: 24}}
thresholds:
  - p99(latency) < 30s
  - error_rate < 50%
  - session_success_rate > 50%
telemetry:
  interval: 250ms
  host: {{}}
  gpu: {{}}
  prometheus:
    - url: {url}/metrics
  generator: {{}}
"""


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """The CLI with stdout and stderr on a pseudo-terminal; (exit code, text without ANSI)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentload", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160", "LINES": "50", "TERM": "xterm-256color"},
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # a full pty buffer would block the child
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    os.close(master)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_run_with_telemetry_and_personas_live_then_probe_in_its_report(
    fast_agent: str, tmp_path: Path
) -> None:
    path = tmp_path / "smoke.yaml"
    path.write_text(scenario(fast_agent))
    run_dir = tmp_path / "run"
    code, text = run_on_a_terminal(["run", str(path), "--out", str(run_dir)], tmp_path)
    assert "Traceback" not in text, text[-3000:]
    assert code == 0, text[-3000:]
    # The live display, thresholds included, was drawn while the run went on.
    assert "in flight" in text and "latency" in text, text[:3000]
    assert "thresholds so far:" in text, text[:3000]
    # The final report: personas, thresholds, telemetry notes (no GPU here: said once).
    assert "browser" in text and "buyer" in text
    assert "session_success_rate > 50%" in text and "pass" in text
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["counts"]["ok"] > 0
    assert [t["ok"] for t in summary["thresholds"]] == [True, True, True]
    assert set(summary["sessions"]["by_persona"]) == {"browser", "buyer"}
    collectors = {
        json.loads(line)["collector"]
        for line in (run_dir / "telemetry.jsonl").read_text().splitlines()
    }
    assert {"host", "generator", "prometheus"} <= collectors
    assert (run_dir / "report.html").is_file()

    probe = agentload("probe", f"{fast_agent}/healthz", "-n", "3", "--body-bytes", "0",
                      "--out", str(run_dir))  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    report = agentload("report", str(run_dir), "--html")
    assert_no_traceback(report)
    assert report.returncode == 0, report.stderr
    assert "network probe" in report.stdout and "TCP connect" in report.stdout
    assert f"probe of {fast_agent}/healthz: 3 rounds" in report.stdout
    page = (run_dir / "report.html").read_text()
    assert '<section id="network-probe"><h2>Network probe</h2>' in page
    assert "<h2>Per persona</h2>" in page and "<h2>Telemetry</h2>" in page
    markdown = agentload("report", str(run_dir), "--md")
    assert markdown.returncode == 0 and "**Network probe**" in markdown.stdout
