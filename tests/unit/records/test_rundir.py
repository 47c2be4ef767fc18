"""The run directory: records survive a torn write; secrets do not reach the disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.errors import RunDirError
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RECORDS_FILE, RecordReadStats, RunDir
from agentload.testing import make_record


def new_run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path / "run")
    run.write_meta({"status": "running"})
    return run


def test_records_round_trip(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    writer = run.record_writer()
    originals = [
        make_record(seq=0, itl_ms=(1.5, 2.25), phases_ms={"queue": 3.0}),
        make_record(
            seq=1,
            outcome=Outcome.ERROR,
            error_kind=ErrorKind.HTTP_5XX,
            error_message='HTTP 503: {"error": "ünïcode"}',
            first_token_at=None,
        ),
        make_record(
            seq=2, outcome=Outcome.DROPPED, sent_at=None, first_byte_at=None, first_token_at=None
        ),
    ]
    for record in originals:
        writer.add(record)
    writer.close()
    assert list(run.iter_records()) == originals


def test_flush_due_writes_at_most_once_per_interval(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    writer = run.record_writer()
    path = run.path / RECORDS_FILE
    writer.add(make_record(seq=0))
    writer.flush_due(0)
    assert len(path.read_bytes().splitlines()) == 1
    writer.add(make_record(seq=1))
    writer.flush_due(250_000_000)  # a quarter second later: not yet
    assert len(path.read_bytes().splitlines()) == 1
    writer.flush_due(500_000_000)
    assert len(path.read_bytes().splitlines()) == 2
    writer.close()


@settings(max_examples=50, deadline=None)
@given(count=st.integers(1, 30), cut=st.integers(1, 400))
def test_a_torn_last_line_is_skipped_and_noted(
    tmp_path_factory: pytest.TempPathFactory, count: int, cut: int
) -> None:
    run = new_run(tmp_path_factory.mktemp("torn"))
    writer = run.record_writer()
    for seq in range(count):
        writer.add(make_record(seq=seq))
    writer.close()
    path = run.path / RECORDS_FILE
    data = path.read_bytes()
    torn = data[: max(0, len(data) - cut)]
    path.write_bytes(torn)
    stats = RecordReadStats()
    records = list(RunDir.open(run.path).iter_records(stats))
    complete_lines = torn.count(b"\n")
    assert len(records) in (complete_lines, complete_lines + 1)
    assert [r.seq for r in records] == list(range(len(records)))
    if len(records) == complete_lines and not torn.endswith(b"\n") and torn:
        assert stats.skipped_torn_tail


def test_corruption_in_the_middle_is_an_error_naming_the_line(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    writer = run.record_writer()
    for seq in range(3):
        writer.add(make_record(seq=seq))
    writer.close()
    path = run.path / RECORDS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = b"{not json}\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(RunDirError, match=r"records.jsonl:2: corrupted record"):
        list(RunDir.open(run.path).iter_records())


def test_credential_headers_are_redacted(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    run.write_scenario(
        {
            "target": {
                "headers": {
                    "Authorization": "Bearer sk-123",
                    "X-Api-Key": "k",
                    "X-Trace": "keep-me",
                }
            }
        }
    )
    text = (run.path / "scenario.yaml").read_text()
    assert "sk-123" not in text and ": k\n" not in text
    assert "keep-me" in text


def test_opening_something_that_is_not_a_run_dir(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not a run directory"):
        RunDir.open(tmp_path)
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir.open(tmp_path / "missing")
    RunDir.create(tmp_path / "x")
    with pytest.raises(RunDirError, match="already exists"):
        RunDir.create(tmp_path / "x")


def test_records_reach_the_file_in_slices_before_the_flush_interval(tmp_path: Path) -> None:
    # A 5,000/s run writes ~2,500 records per flush interval; written at once they held the
    # event loop ~1.3 ms, so they go out in slices as they arrive.
    run = new_run(tmp_path)
    writer = run.record_writer()
    for seq in range(600):
        writer.add(make_record(seq=seq))
    on_disk = (run.path / RECORDS_FILE).read_bytes().count(b"\n")
    assert 256 <= on_disk < 600  # whole slices only, each line complete
    writer.close()
    assert [r.seq for r in run.iter_records()] == list(range(600))
