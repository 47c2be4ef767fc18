"""Redis is an optional extra (``agentload[redis]``): using a Redis feature without it is a
one-line usage error naming the extra to install (exit 2), before anything starts or is
written. The package is hidden the way Python reports a missing one (``import redis`` raises
ImportError), in a child process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_WITHOUT_REDIS = """
import sys
sys.modules["redis"] = None  # as if not installed
sys.argv = ["agentload", *sys.argv[1:]]
from agentload.cli.main import main
main()
"""


def _agentload_without_redis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_REDIS, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _assert_one_line_usage_error(proc: subprocess.CompletedProcess[str], field: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: {field}:")
    assert "pip install 'agentload[redis]'" in errors[0]


def test_redis_telemetry_without_the_extra_names_it(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: redis-telemetry\n"
        'target: {base_url: "http://127.0.0.1:9", protocol: openai-chat}\n'
        "request: {path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 2}\n"
        "load: {model: closed, users: 1, requests: 1}\n"
        'telemetry: {redis: {url: "redis://127.0.0.1:9"}}\n'
    )
    out = tmp_path / "run"
    proc = _agentload_without_redis("run", str(scenario), "--quiet", "--out", str(out))
    _assert_one_line_usage_error(proc, "telemetry.redis")
    assert not out.exists()  # refused before the run directory was created


def test_redis_store_without_the_extra_names_it() -> None:
    proc = _agentload_without_redis(
        "agent", "serve", "--port", "0", "--store", "redis://127.0.0.1:9/0"
    )
    _assert_one_line_usage_error(proc, "store.url")
