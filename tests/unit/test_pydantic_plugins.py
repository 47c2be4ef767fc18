"""The ``agentload`` command turns pydantic plugins off and skips their lookup (which would
import ``importlib.metadata`` and read every installed package's metadata), unless the user
set pydantic's switch to something else. Each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import json, sys
from agentload.cli.main import main
sys.argv = ["agentload", "validate", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    code = exit.code
import importlib.util, os
seen = {"code": code, "metadata": "importlib.metadata" in sys.modules,
        "switch": os.environ.get("PYDANTIC_DISABLE_PLUGINS")}
# Whatever stands in for the loader still behaves as a module: found, imported, and any
# other name it has comes from pydantic's own loader.
import pydantic.plugin._loader as loader
from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP
seen["spec"] = importlib.util.find_spec("pydantic.plugin._loader") is not None
seen["group"] = PYDANTIC_ENTRY_POINT_GROUP
seen["plugins"] = list(loader.get_plugins())
print(json.dumps(seen))
"""


def _validate(scenario: Path, switch: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if switch is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = switch
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    seen: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return seen


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: plugins\n"
        'target: {base_url: "http://127.0.0.1:9", protocol: http}\n'
        "request: {method: GET, path: /}\n"
        "load: {model: closed, users: 1, requests: 1}\n"
    )
    return path


@pytest.mark.parametrize("switch", [None, "__all__", "1", "true"])
def test_no_plugin_lookup_when_plugins_are_off(scenario: Path, switch: str | None) -> None:
    seen = _validate(scenario, switch)
    assert seen == {
        "code": 0,
        "metadata": False,
        "switch": switch or "__all__",
        "spec": True,
        "group": "pydantic",
        "plugins": [],
    }


@pytest.mark.parametrize("switch", ["", "some_plugin"])
def test_a_user_s_own_setting_gets_pydantic_s_loader(scenario: Path, switch: str) -> None:
    seen = _validate(scenario, switch)
    assert seen == {
        "code": 0,
        "metadata": True,
        "switch": switch,
        "spec": True,
        "group": "pydantic",
        "plugins": [],
    }
