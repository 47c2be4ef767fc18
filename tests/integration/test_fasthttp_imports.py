"""A run on the fast transport never loads aiohttp (≈25 MB resident), and one on the aiohttp
transport still works: the heavy client is imported only where it is chosen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import json, sys
from pathlib import Path
from agentload.api import run
from agentload.config.loader import load_scenario
scenario = load_scenario(Path(sys.argv[1]))
result = run(scenario, out_dir=Path(sys.argv[2]), progress=None, handle_signals=False)
print(json.dumps({"ok": result.summary.ok, "aiohttp": "aiohttp" in sys.modules,
                  "fastapi": "fastapi" in sys.modules, "uvicorn": "uvicorn" in sys.modules}))
"""


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_only_the_aiohttp_transport_imports_aiohttp(
    fast_agent: str, tmp_path: Path, transport: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: imports\n"
        f'target: {{base_url: "{fast_agent}", protocol: openai-chat, transport: {transport}}}\n'
        "request: {path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 4, stream: true}\n"
        "load: {model: closed, users: 2, requests: 6}\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(scenario), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["ok"] == 6
    assert seen["aiohttp"] is (transport == "aiohttp")
    assert not seen["fastapi"] and not seen["uvicorn"]  # the reference agent stays out
