"""Trace replay: CSV and JSONL timestamps, normalised, sorted, scaled; rows carried along;
malformed files rejected with file, line and field."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from agentload.errors import UsageError
from agentload.traffic import TraceFormatError, TraceReplay, schedule_ns


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    return write(path, "".join(json.dumps(r) + "\n" for r in records))


def offsets(replay: TraceReplay) -> list[float]:
    return list(replay.offsets_s(np.random.default_rng(0)))


# --- Reading -------------------------------------------------------------------------------


def test_csv_relative_seconds_with_carried_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        't,input_tokens,output_tokens,prompt\n0.5,100,20,hello\n1.0,250,40,\n2.25,80,10,"a, b"\n',
    )
    replay = TraceReplay.load(
        path, time_field="t", fields=["input_tokens", "output_tokens", "prompt"]
    )
    # Shifted so the first arrival is at 0.
    assert offsets(replay) == [0.0, 0.5, 1.75]
    assert [dict(r) for r in replay.rows()] == [
        {"input_tokens": 100, "output_tokens": 20, "prompt": "hello"},
        {"input_tokens": 250, "output_tokens": 40, "prompt": None},  # empty cell
        {"input_tokens": 80, "output_tokens": 10, "prompt": "a, b"},
    ]
    assert len(replay) == 3
    assert replay.duration_s == 1.75


def test_jsonl_absolute_epoch_milliseconds(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "t.jsonl",
        [{"ts": 1_700_000_000_000 + d, "in": d} for d in (0, 250, 250, 4000)],
    )
    replay = TraceReplay.load(path, time_field="ts", unit="ms", fields=["in"])
    assert offsets(replay) == [0.0, 0.25, 0.25, 4.0]
    assert [r["in"] for r in replay.rows()] == [0, 250, 250, 4000]


def test_integer_nanosecond_epochs_keep_their_precision(tmp_path: Path) -> None:
    # 1.7e18 is past 2**53: subtracting after a float conversion would lose the nanoseconds.
    base = 1_700_000_000_123_456_789
    path = jsonl(tmp_path / "t.jsonl", [{"t": base}, {"t": base + 1}, {"t": str(base + 7)}])
    assert offsets(TraceReplay.load(path, time_field="t", unit="ns")) == [0.0, 1e-9, 7e-9]


def test_iso_times_with_and_without_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path / "azure.csv",
        "TIMESTAMP,ContextTokens\n"
        "2023-11-16 18:15:46.6805900,374\n"
        "2023-11-16 18:15:50.748,396\n"
        "2023-11-16T18:16:46+00:00,879\n",
    )
    replay = TraceReplay.load(path, time_field="TIMESTAMP", unit="iso", fields=["ContextTokens"])
    assert offsets(replay) == pytest.approx([0.0, 4.06741, 59.31941])
    assert [r["ContextTokens"] for r in replay.rows()] == [374, 396, 879]


def test_gzip_and_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"timestamp": 3}\n\n{"timestamp": 5}\n')  # a blank line is skipped
    assert offsets(TraceReplay.load(path)) == [0.0, 2.0]
    odd = write(tmp_path / "trace.log", "timestamp\n1\n2\n")
    assert offsets(TraceReplay.load(odd, format="csv")) == [0.0, 1.0]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftimestamp,n\n1,2\n".encode())
    assert offsets(TraceReplay.load(path)) == [0.0]


# --- Order and speed -----------------------------------------------------------------------


def test_unsorted_rows_are_sorted_stably_and_rows_follow(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "t.jsonl",
        [
            {"t": 3.0, "id": "c"},
            {"t": 1.0, "id": "a"},
            {"t": 3.0, "id": "d"},
            {"t": 2.0, "id": "b"},
        ],
    )
    replay = TraceReplay.load(path, time_field="t", fields=["id"])
    assert offsets(replay) == [0.0, 1.0, 2.0, 2.0]
    assert [r["id"] for r in replay.rows()] == ["a", "b", "c", "d"]  # ties keep file order


def test_sort_false_rejects_time_going_backwards(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "t\n1\n2\n1.5\n")
    with pytest.raises(TraceFormatError, match=r"t\.csv:4: field 't': time goes backwards"):
        TraceReplay.load(path, time_field="t", sort=False)
    sorted_path = write(tmp_path / "s.csv", "t\n1\n2\n2\n")
    assert offsets(TraceReplay.load(sorted_path, time_field="t", sort=False)) == [0.0, 1.0, 1.0]


def test_speed_scales_the_offsets(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "timestamp\n10\n11\n14\n")
    replay = TraceReplay.load(path, speed=2.0)
    assert offsets(replay) == [0.0, 0.5, 2.0]
    assert replay.duration_s == 2.0
    slow = replay.with_speed(0.5)
    assert offsets(slow) == [0.0, 2.0, 8.0]
    assert offsets(replay) == [0.0, 0.5, 2.0]  # the original is unchanged


def test_schedule_follows_the_trace_and_rows_align(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "t.jsonl", [{"timestamp": t, "n": i} for i, t in enumerate([0, 1, 2, 3])]
    )
    replay = TraceReplay.load(path, fields=["n"])
    ns = list(schedule_ns(replay, np.random.default_rng(0), duration_s=2.5, max_count=None))
    assert ns == [0, 1_000_000_000, 2_000_000_000]
    assert [replay.rows()[i]["n"] for i in range(len(ns))] == [0, 1, 2]
    # Not random: any generator gives the same offsets.
    assert list(replay.offsets_s(np.random.default_rng(1))) == offsets(replay)


def test_rows_are_empty_mappings_without_fields(tmp_path: Path) -> None:
    replay = TraceReplay.load(write(tmp_path / "t.csv", "timestamp,x\n1,2\n3,4\n"))
    assert [dict(r) for r in replay.rows()] == [{}, {}]


# --- Malformed files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "line", "field", "match"),
    [
        ("a.jsonl", '{"t": 1}\n{"t": 2}\n{"t": 3\n', {}, 3, None, "not valid JSON"),
        ("a.jsonl", '{"t": 1}\n[1, 2]\n', {}, 2, None, "a JSON object"),
        ("a.jsonl", '{"t": 1}\n{"u": 2}\n', {}, 2, "t", "missing"),
        ("a.jsonl", '{"t": 1}\n{"t": "soon"}\n', {}, 2, "t", "not a number of s"),
        ("a.jsonl", '{"t": 1}\n{"t": true}\n', {}, 2, "t", "not a number"),
        ("a.jsonl", '{"t": 1}\n{"t": NaN}\n', {}, 2, "t", "finite"),
        ("a.jsonl", '{"t": 1, "n": 1}\n{"t": 2}\n', {"fields": ["n"]}, 2, "n", "missing"),
        ("a.jsonl", '{"t": "12:00"}\n', {"unit": "iso"}, 1, "t", "ISO 8601"),
        ("a.csv", "time,n\n1,2\n", {}, 1, "t", "no such column; the header has 'time', 'n'"),
        ("a.csv", "t,n\n1,2\n2,3\n", {"fields": ["m"]}, 1, "m", "no such column"),
        ("a.csv", "t,n\n1,2\n2\n", {}, 3, None, "1 values, but the header has 2"),
        ("a.csv", "t,n\n1,2\n2,3,4\n", {}, 3, None, "3 values"),
        ("a.csv", "t,n\n1,2\n,3\n", {}, 3, "t", "missing"),
        ("a.csv", "t\n1\n2\nnan\n", {}, 4, "t", "not a finite time"),
        ("a.csv", "t\n1\n1e400\n", {}, 3, "t", "finite"),
    ],
)
def test_malformed_lines_name_file_line_and_field(
    tmp_path: Path,
    name: str,
    text: str,
    kwargs: dict[str, object],
    line: int,
    field: str | None,
    match: str,
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(TraceFormatError, match=match) as info:
        TraceReplay.load(path, time_field="t", **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert str(err).startswith(f"{path}:{line}: ")
    if field is not None:
        assert f"field {field!r}" in str(err)
    # A ValueError for callers that build plans, a usage error (exit 2) for the CLI.
    assert isinstance(err, ValueError) and isinstance(err, UsageError)


@pytest.mark.parametrize(("name", "text"), [("e.csv", ""), ("h.csv", "t\n"), ("e.jsonl", "\n\n")])
def test_a_trace_without_rows_is_rejected(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(TraceFormatError, match=rf"{name}: no rows"):
        TraceReplay.load(write(tmp_path / name, text), time_field="t")


def test_binary_file_is_rejected_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"t\n1\n\xff\xfe\x00\n")
    with pytest.raises(TraceFormatError, match=r"b\.csv: .*UTF-8"):
        TraceReplay.load(path, time_field="t")


def test_unknown_format_unit_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match=r"trace\.txt: cannot tell the format"):
        TraceReplay.load(write(tmp_path / "trace.txt", "t\n1\n"))
    with pytest.raises(ValueError, match="csv, jsonl"):
        TraceReplay.load(tmp_path / "trace.txt", format="parquet")
    with pytest.raises(ValueError, match="s, ms, us, ns, iso"):
        TraceReplay.load(tmp_path / "trace.csv", unit="minutes")
    with pytest.raises(FileNotFoundError):
        TraceReplay.load(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("offsets_s", "rows", "speed", "match"),
    [
        ([], None, 1.0, "at least one"),
        ([1.0, 0.5], None, 1.0, "non-decreasing"),
        ([-1.0, 0.0], None, 1.0, ">= 0"),
        ([0.0, math.nan], None, 1.0, "finite"),
        ([0.0, 1.0], [{}], 1.0, "1 rows for 2"),
        ([0.0], None, 0.0, "speed"),
        ([0.0], None, math.inf, "speed"),
    ],
)
def test_in_memory_replay_is_validated(
    offsets_s: list[float], rows: list[dict[str, object]] | None, speed: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        TraceReplay(offsets_s, rows, speed=speed)
