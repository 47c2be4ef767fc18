"""The CLI as a user runs it: real processes, real exit codes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def agentload(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentload", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160"},
    )


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_help_lists_every_command_and_the_exit_codes() -> None:
    proc = agentload("--help")
    assert proc.returncode == 0
    for command in ("run", "validate", "demo", "report", "agent"):
        assert command in proc.stdout
    text = " ".join(proc.stdout.split())
    assert "Exit codes: 0 ok; 1 a threshold failed or no request succeeded; 2 usage" in text
    assert "3 run interrupted" in text


def test_demo_runs_end_to_end_in_a_temp_dir(tmp_path: Path) -> None:
    proc = agentload("demo", "--duration", "3s", "--out", "demo-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert "latency" in proc.stdout and "TTFT" in proc.stdout
    run_dir = tmp_path / "demo-run"
    for name in ("meta.json", "records.jsonl", "summary.json", "scenario.yaml"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    counts = summary["counts"]
    assert (
        counts["requests"]
        == counts["ok"] + counts["error"] + counts["dropped"] + counts["cancelled"]
    )
    assert counts["ok"] > 20 and counts["error"] == 0
    assert json.loads((run_dir / "meta.json").read_text())["status"] == "complete"
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(lines) == counts["requests"]

    report = agentload("report", str(run_dir), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["counts"] == counts


def test_bad_scenario_exits_2_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "target:\n  base_url: http://127.0.0.1:1\nload:\n  arrival: poison\n  rate: 5/s\n"
        "  duration: 1s\nrequest:\n  prompt_tokens: 10\n  colour: red\n"
    )
    for command in ("validate", "run"):
        proc = agentload(command, str(bad))
        assert proc.returncode == 2
        assert_no_traceback(proc)
        lines = proc.stderr.strip().splitlines()
        assert any(
            line.startswith(f"error: {bad}:4: load.arrival: input should be 'constant'")
            for line in lines
        )
        assert any(
            line.startswith(f"error: {bad}:9: request.colour: unknown field") for line in lines
        )


@pytest.mark.parametrize(
    "content",
    ["", "just a string", "a: [1, 2", "\x00\x01binary", "target: {base_url: 5}\n"],
    ids=["empty", "scalar", "broken-yaml", "binary", "wrong-type"],
)
def test_malformed_files_never_give_a_traceback(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(content)
    proc = agentload("validate", str(path))
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert proc.stderr.startswith(f"error: {path}")


def test_missing_file_and_bad_run_dir_exit_2(tmp_path: Path) -> None:
    proc = agentload("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = agentload("report", str(tmp_path))
    assert proc.returncode == 2 and "not a run directory" in proc.stderr
    assert_no_traceback(proc)


def test_examples_validate() -> None:
    env_example = {"API_KEY": "x"}
    for example in sorted(EXAMPLES.glob("*.yaml")):
        proc = subprocess.run(
            [sys.executable, "-m", "agentload", "validate", str(example)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env_example},
        )
        assert proc.returncode == 0, (example, proc.stderr)


def test_sigint_stops_gracefully_and_exits_3(tmp_path: Path) -> None:
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentload",
            "agent",
            "serve",
            "--port",
            "0",
            "--speed",
            "5",
            "--ready-file",
            str(tmp_path / "ready"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() or not (tmp_path / "ready").read_text():
            assert time.monotonic() < deadline, "agent did not start"
            time.sleep(0.05)
        url = (tmp_path / "ready").read_text().strip()
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentload",
                "run",
                str(EXAMPLES / "openai-chat.yaml"),
                "--set",
                f"target.base_url={url}",
                "--duration",
                "60s",
                "--quiet",
                "--out",
                str(tmp_path / "run"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        run.send_signal(signal.SIGINT)
        _out, err = run.communicate(timeout=40)
        assert run.returncode == 3, err
        assert "Traceback" not in err
        meta = json.loads((tmp_path / "run" / "meta.json").read_text())
        assert meta["status"] == "interrupted"
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        counts = summary["counts"]
        assert counts["requests"] > 5
        assert (
            counts["requests"]
            == counts["ok"] + counts["error"] + counts["dropped"] + counts["cancelled"]
        )
        assert counts["cancelled"] == 0  # one interrupt: in-flight requests were allowed to finish
    finally:
        serve.terminate()
        serve.wait(timeout=10)


def test_a_run_where_nothing_succeeds_exits_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scenario = tmp_path / "dead.yaml"
    scenario.write_text(
        f"target: {{base_url: 'http://127.0.0.1:{port}', protocol: http}}\n"
        "load: {rate: 20/s, requests: 5}\nrequest: {path: /}\n"
    )
    proc = agentload("run", str(scenario), "--quiet", "--out", str(tmp_path / "run"))
    assert proc.returncode == 1, proc.stderr
    assert "connect_refused" in proc.stdout
    assert "no request succeeded" in proc.stdout
