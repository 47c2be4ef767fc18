import json
from pathlib import Path

import pytest

from agentload.analysis.summary import summarize
from agentload.records.record import Outcome, RequestRecord
from agentload.report.json_summary import write_summary_json


def test_writes_summary_json(tmp_path: Path) -> None:
    record = RequestRecord(
        seq=0,
        worker=0,
        action="chat",
        intended_at=0,
        sent_at=0,
        done_at=5_000_000,
        outcome=Outcome.OK,
    )
    path = tmp_path / "summary.json"
    path.write_text("old")
    write_summary_json(summarize([record], target_rate_per_s=None), path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    assert data["metrics"]["latency_ms"]["p50"] == 5.0
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "summary.json"
    path.write_text("old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError):
        write_summary_json(summarize([], target_rate_per_s=None), path)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
