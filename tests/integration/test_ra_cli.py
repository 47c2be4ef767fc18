"""``agentload agent serve``: settings file, flags over the file, clear usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_reference_agent

pytestmark = pytest.mark.timeout(60)


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentload", "agent", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_help_lists_the_flags() -> None:
    out = serve("--help").stdout
    for flag in ("--config", "--profile", "--engine", "--model", "--max-batch", "--max-wait-ms",
                 "--kv-budget-tokens", "--oom-policy", "--speed", "--seed", "--store",
                 "--ready-file", "--host", "--port"):  # fmt: skip
        assert flag in out, flag


def test_a_bad_file_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("profile: fastest\nengine: {max_batch: 0, colour: red}\n")
    proc = serve("--config", str(config))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"error: {config}: ") for line in lines)
    assert any("profile" in line for line in lines)
    assert any("engine.max_batch" in line for line in lines)
    assert any("engine.colour" in line for line in lines)


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--max-batch", "0"), "engine.max_batch"),
        (("--profile", "turbo"), "profile"),
        (("--oom-policy", "explode"), "engine.oom_policy"),
        (("--model", "70b"), "unknown model"),
        (("--port", "70000"), "--port"),
    ],
)
def test_bad_flags_exit_2(args: tuple[str, ...], needle: str) -> None:
    proc = serve(*args)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_flags_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("engine: {model: 8b, speed: 5}\nprofile: baseline\n")
    with running_reference_agent(tmp_path, "--config", str(config), "--model", "0.9b") as url:
        models = httpx.get(f"{url}/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["agentload-sim-0.9b"]
