"""``agentload demo``: the main job end to end against the bundled reference agent."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from agentload.cli.options import DURATION_OPTION, JSON_OPTION, OUT_OPTION, QUIET_OPTION
from agentload.cli.run import execute
from agentload.config import parse_scenario
from agentload.errors import RunError

HELP = (
    "Start the reference agent on a free loopback port, run a 30-second conversation test "
    "against it (sessions arriving at 8/s, two personas, multi-turn streaming chats whose "
    "context grows turn by turn, think time between turns), show live progress and the "
    "summary with per-turn and per-persona tables, write the run directory, stop the agent."
)

_READY_TIMEOUT_S = 60.0


def demo_command(
    out: Path | None = OUT_OPTION,
    quiet: bool = QUIET_OPTION,
    json_: bool = JSON_OPTION,
    duration: str | None = DURATION_OPTION,
) -> int:
    text = resources.files("agentload.scenarios").joinpath("demo.yaml").read_text()
    with tempfile.TemporaryDirectory(prefix="agentload-demo-") as tmp:
        ready = Path(tmp) / "ready"
        log_path = Path(tmp) / "agent.log"
        log = log_path.open("wb")
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentload",
                "agent",
                "serve",
                "--port",
                "0",
                "--ready-file",
                str(ready),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            url = _wait_ready(agent, ready, log_path)
            overrides = [f"target.base_url={url}"]
            if duration is not None:
                overrides.append(f"load.duration={duration}")
            scenario = parse_scenario(text, source="demo.yaml", overrides=overrides)
            code = execute(scenario, out=out, quiet=quiet, as_json=json_)
        finally:
            agent.terminate()
            try:
                agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
            log.close()
    if code:
        raise SystemExit(code)
    return 0


def _wait_ready(agent: subprocess.Popen[bytes], ready: Path, log_path: Path) -> str:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists() and (url := ready.read_text().strip()):
            return url
        if agent.poll() is not None:
            stderr = log_path.read_text(errors="replace")
            last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
            raise RunError(f"the reference agent exited with code {agent.returncode}: {last}")
        time.sleep(0.05)
    raise RunError(f"the reference agent did not start within {_READY_TIMEOUT_S:.0f}s")
