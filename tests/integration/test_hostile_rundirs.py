"""Damaged run directories: ``agentload report`` answers with one line and exit 2, never a
traceback, and never loads anything but JSON and safe YAML from them."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentload import api
from agentload.cli.main import main
from tests.hostile_server import hostile_server
from tests.integration.test_hostile_responses import hostile_scenario


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("good") / "run"
    with hostile_server() as server:
        api.run(hostile_scenario(server.url, "http", "ok"), out_dir=out)
    return out


def _corrupt_middle(run: Path) -> None:
    lines = (run / "records.jsonl").read_bytes().splitlines(keepends=True)
    lines[1] = b'{"seq": "not a number"}\n'
    (run / "records.jsonl").write_bytes(b"".join(lines))


def _replace_dir(name: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / name).unlink()
        (run / name).mkdir()

    return damage


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "records corrupted mid-file": (_corrupt_middle, "records.jsonl:2: corrupted record"),
    "records binary": (
        lambda run: (run / "records.jsonl").write_bytes(os.urandom(2000) + b"\n"),
        "corrupted record",
    ),
    "meta not json": (lambda run: (run / "meta.json").write_text("{nope"), "meta.json: unreadable"),
    "meta a list": (lambda run: (run / "meta.json").write_text("[1, 2]"), "expected a JSON object"),
    "meta missing": (lambda run: (run / "meta.json").unlink(), "not a run directory"),
    "records a directory": (_replace_dir("records.jsonl"), "records.jsonl"),
    "scenario not yaml": (
        lambda run: (run / "scenario.yaml").write_text("a: [unclosed\n"),
        "cannot read scenario.yaml",
    ),
    "scenario executable tag": (
        lambda run: (run / "scenario.yaml").write_text("!!python/object/apply:os.system ['true']"),
        "cannot read scenario.yaml",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_run_directory_is_one_line_and_exit_2(
    good_run: Path,
    tmp_path: Path,
    damage: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    apply, expected = DAMAGE[damage]
    apply(run)
    # The CLI's own entry point, in this process (an interpreter start per case is slow).
    monkeypatch.setattr(sys, "argv", ["agentload", "report", str(run)])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    errors = [line for line in err.splitlines() if line.strip()]
    assert len(errors) == 1 and expected in errors[0], err
