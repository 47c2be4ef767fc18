"""What a run keeps resident: the modules a load test imports are the largest part of its
baseline memory, so what it does not need stays out.

- A run on the fast transport never loads aiohttp (≈25 MB); one on the aiohttp transport
  still works. The reference agent (fastapi, uvicorn) and redis stay out of every run.
- The load phase does not load what only the end of the run needs (the HTML report, the
  terminal views and rich, the bottleneck analysis) nor the live Prometheus endpoint when
  it is not asked for.
- ``agentload run`` imports no other subcommand (compare, capacity, agent, ...).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The probe's progress object is closed when the load phase ends, before the summary and the
# report: what it sees then is what the run held while sending.
_PROBE = """
import json, sys
from pathlib import Path
from agentload.api import run
from agentload.config.loader import load_scenario
WATCHED = json.loads(sys.argv[3])
class Watch:
    load = None
    def update(self, snapshot): pass
    def close(self):
        if Watch.load is None:
            Watch.load = [m for m in WATCHED if m in sys.modules]
scenario = load_scenario(Path(sys.argv[1]))
result = run(scenario, out_dir=Path(sys.argv[2]), progress=Watch(), handle_signals=False)
print(json.dumps({"ok": result.summary.ok, "load": Watch.load,
                  "end": [m for m in WATCHED if m in sys.modules]}))
"""

_NEVER = ["fastapi", "uvicorn", "redis", "agentload.reference_agent", "prometheus_client"]
_END_ONLY = [
    "rich",
    "agentload.report.html",
    "agentload.report.terminal",
    "agentload.analysis.bottleneck",  # the end-of-run analyses
]


def _scenario(tmp_path: Path, base_url: str, transport: str) -> Path:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: imports\n"
        f'target: {{base_url: "{base_url}", protocol: openai-chat, transport: {transport}}}\n'
        "request: {path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 4, stream: true}\n"
        "load: {model: closed, users: 2, requests: 6}\n"
    )
    return scenario


def _probe(scenario: Path, out: Path, watched: list[str]) -> tuple[int, set[str], set[str]]:
    """(ok requests, modules loaded when the load phase ended, loaded at the end)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(scenario), str(out), json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(seen["ok"]), set(seen["load"]), set(seen["end"])


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_only_the_aiohttp_transport_imports_aiohttp(
    fast_agent: str, tmp_path: Path, transport: str
) -> None:
    ok, load, end = _probe(
        _scenario(tmp_path, fast_agent, transport),
        tmp_path / "run",
        ["aiohttp", "yarl", "psutil", *_NEVER, *_END_ONLY],
    )
    assert ok == 6
    assert ("aiohttp" in end) is (transport == "aiohttp")
    if transport == "fast":  # URLs by urllib, RSS from /proc: ~2.7 MB less resident
        assert not {"yarl", "psutil"} & load
    assert not set(_NEVER) & end
    # Only after the load phase: the report and terminal views (rich), for the summary.
    assert not set(_END_ONLY) & load
    assert (tmp_path / "run" / "report.html").is_file()  # and they did their work after it


# atexit: the CLI ends with sys.exit; the run directory and the JSON summary are written by then.
_CLI_PROBE = """
import atexit, json, sys
WATCHED = json.loads(sys.argv.pop())
out = sys.argv.pop()
def report():
    print(json.dumps([m for m in WATCHED if m in sys.modules]), file=sys.stderr)
atexit.register(report)
sys.argv = ["agentload", "run", *sys.argv[1:], "--quiet", "--json", "--out", out]
from agentload.cli.main import main
main()
"""


def test_the_run_command_imports_no_other_subcommand(fast_agent: str, tmp_path: Path) -> None:
    other_commands = [
        f"agentload.cli.{name}"
        for name in ("compare", "capacity", "report", "export", "probe", "agent", "demo")
    ]
    heavy = ["agentload.analysis.compare", "agentload.capacity_runner", "rich.live", "aiohttp"]
    watched = [*other_commands, *heavy, *_NEVER, "agentload.cli.run"]
    scenario = _scenario(tmp_path, fast_agent, "fast")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _CLI_PROBE,
            str(scenario),
            str(tmp_path / "run"),
            json.dumps(watched),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["ok"] == 6
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert loaded == ["agentload.cli.run"]


# api.run is wrapped to see what the CLI had loaded when the run began.
_QUIET_PROBE = """
import json, sys
out = sys.argv.pop()
from agentload import api
real_run = api.run
seen = {}
def run(*args, **kwargs):
    seen["rich_before_run"] = "rich" in sys.modules
    return real_run(*args, **kwargs)
api.run = run
sys.argv = ["agentload", "run", *sys.argv[1:], "--quiet", "--out", out]
from agentload.cli.main import main
try:
    main()
finally:
    print(json.dumps(seen), file=sys.stderr)
"""


def test_a_quiet_run_loads_rich_only_for_its_summary(fast_agent: str, tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, fast_agent, "fast")
    proc = subprocess.run(
        [sys.executable, "-c", _QUIET_PROBE, str(scenario), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {"rich_before_run": False}
    assert "run directory:" in proc.stdout  # the summary was still printed, through rich
