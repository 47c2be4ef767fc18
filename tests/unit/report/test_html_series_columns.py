"""The report's series from columns: the same numbers as a record-by-record pass.

The reference below is the per-record algorithm the series are defined by (counts per
second, ``Thinned`` samples); the columnar builder must agree with it exactly, whatever the
block boundaries, and a run directory read back as columns must agree with ``iter_records``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.compare_samples import Thinned
from agentload.errors import RunDirError
from agentload.records.columns import NO_TIME, RecordColumns, columns_of, iter_columns
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RECORDS_FILE, RecordReadStats, RunDir
from agentload.report.html import render_run_html
from agentload.report.html_columns import ThinnedRows
from agentload.report.html_series import RunSeries, SeriesBuilder, series_of

S = 1_000_000_000
MS = 1_000_000


def reference_series(records: list[RequestRecord], cap: int) -> RunSeries:
    """Record by record, with Python counters and ``Thinned``: the definition."""
    due, sent, ok, ended = Counter[int](), Counter[int](), Counter[int](), Counter[int]()
    errors: defaultdict[str, Counter[int]] = defaultdict(Counter)
    examples: dict[str, str] = {}
    rows, lags, itl = Thinned(cap), Thinned(cap), Thinned(cap)
    last_s = 0
    for r in records:
        due_s, done_s = r.intended_at // S, r.done_at // S
        last_s = max(last_s, done_s, due_s)
        due[due_s] += 1
        if r.sent_at is not None:
            sent[r.sent_at // S] += 1
            ended[done_s] += 1
            lags.add((r.sent_at // S, (r.sent_at - r.intended_at) / 1e6))
        if r.outcome == Outcome.OK:
            ok[done_s] += 1
            if r.latency_ms is not None:
                ttft = math.nan if r.ttft_ms is None else r.ttft_ms
                rows.add((done_s, r.latency_ms, ttft, r.service_ms))
            for gap in r.itl_ms:
                itl.add(gap)
        elif r.outcome == Outcome.ERROR:
            kind = str(r.error_kind) if r.error_kind else "unknown"
            errors[kind][done_s] += 1
            if kind not in examples and r.error_message:
                examples[kind] = r.error_message[:300]
    n = last_s + 1 if records else 0

    def dense(counts: Counter[int]) -> list[int]:
        return [counts.get(s, 0) for s in range(n)]

    latency = np.array(rows.rows, dtype=np.float64).reshape(-1, 4)
    ttft_all = latency[:, 2]
    started, finished = np.cumsum(dense(sent)), np.cumsum(dense(ended))
    return RunSeries(
        seconds=n,
        due=dense(due),
        sent=dense(sent),
        ok=dense(ok),
        in_flight=[int(v) for v in started - finished],
        errors_by_kind={k: dense(v) for k, v in sorted(errors.items())},
        latency={},
        lag={},
        latency_samples_ms=latency[:, 1],
        ttft_samples_ms=ttft_all[~np.isnan(ttft_all)],
        itl_samples_ms=np.array(itl.rows, dtype=np.float64),
        service_samples_ms=latency[:, 3],
        error_examples=examples,
    )


def assert_same(got: RunSeries, want: RunSeries) -> None:
    for name in ("seconds", "due", "sent", "ok", "in_flight", "errors_by_kind", "error_examples"):
        assert getattr(got, name) == getattr(want, name), name
    for name in ("latency_samples_ms", "ttft_samples_ms", "itl_samples_ms", "service_samples_ms"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@st.composite
def records(draw: st.DrawFn) -> list[RequestRecord]:
    n = draw(st.integers(0, 60))
    out = []
    for seq in range(n):
        intended = draw(st.integers(0, 5 * S))
        outcome = draw(st.sampled_from(list(Outcome)))
        sent = None if outcome == Outcome.DROPPED else intended + draw(st.integers(0, S))
        if outcome == Outcome.OK and draw(st.integers(0, 9)) == 0:
            sent = None  # an ok record without a send time has no latency
        done = (sent if sent is not None else intended) + draw(st.integers(0, 3 * S))
        token = draw(st.one_of(st.none(), st.integers(intended, done)))
        out.append(
            RequestRecord(
                seq=seq,
                worker=0,
                action="a",
                intended_at=intended,
                sent_at=sent,
                first_token_at=token,
                done_at=done,
                outcome=outcome,
                error_kind=draw(st.sampled_from([None, ErrorKind.HTTP_5XX, ErrorKind.HTTP_429])),
                error_message=draw(st.sampled_from([None, "", "boom", "x" * 400])),
                itl_ms=tuple(draw(st.lists(st.floats(0, 1e4), max_size=3))),
            )
        )
    return out


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(records(), st.integers(2, 9), st.lists(st.integers(1, 20), max_size=6))
def test_blocks_of_columns_give_the_per_record_series(
    recs: list[RequestRecord], cap: int, cuts: list[int]
) -> None:
    builder = SeriesBuilder(cap=cap)
    start = 0
    for size in [*cuts, len(recs)]:  # arbitrary block boundaries, then the rest
        builder.add_columns(columns_of(recs[start : start + size]))
        start += size
    assert_same(builder.build(), reference_series(recs, cap))
    one_by_one = SeriesBuilder(cap=cap).add_all(recs).build()
    assert_same(one_by_one, reference_series(recs, cap))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 400), st.integers(2, 40), st.lists(st.integers(0, 50), max_size=12))
def test_thinned_rows_keep_what_thinned_keeps(offered: int, cap: int, cuts: list[int]) -> None:
    thinned, rows = Thinned(cap), ThinnedRows(1, cap)
    for i in range(offered):
        thinned.add(float(i))
    start = 0
    for size in [*cuts, offered]:
        end = min(offered, start + size)
        rows.add(np.arange(start, end, dtype=np.float64))
        start = end
    assert list(rows.array()[:, 0]) == thinned.rows
    assert rows.stride == thinned.stride


def write_records(path: Path, recs: list[RequestRecord]) -> RunDir:
    run_dir = RunDir.create(path)
    run_dir.write_meta({"name": "t", "status": "complete"})
    writer = run_dir.record_writer()
    for record in recs:
        writer.add(record)
    writer.close()
    return run_dir


def concat(blocks: list[RecordColumns]) -> dict[str, object]:
    return {
        "intended_at": np.concatenate([b.intended_at for b in blocks]).tolist(),
        "done_at": np.concatenate([b.done_at for b in blocks]).tolist(),
        "sent_at": np.concatenate([b.sent_at for b in blocks]).tolist(),
        "first_token_at": np.concatenate([b.first_token_at for b in blocks]).tolist(),
        "outcome": np.concatenate([b.outcome for b in blocks]).tolist(),
    }


def sample_records(n: int) -> list[RequestRecord]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        intended = i * 7 * MS
        error = i % 11 == 3
        out.append(
            RequestRecord(
                seq=i,
                worker=0,
                action="a",
                intended_at=intended,
                sent_at=None if i % 13 == 5 else intended + MS,
                first_token_at=None if i % 3 else intended + 2 * MS,
                done_at=intended + int(rng.integers(3, 90)) * MS,
                outcome=Outcome.ERROR if error else Outcome.OK,
                error_kind=ErrorKind.TOTAL_TIMEOUT if error else None,
                error_message=f"timed out {i}" if error else None,
                itl_ms=(1.5, 2.5) if i % 4 == 0 else (),
                phases_ms={"queue": 1.0} if i % 5 == 0 else {},
            )
        )
    return out


def test_a_run_directory_read_as_columns_in_small_blocks(tmp_path: Path) -> None:
    recs = sample_records(500)
    run_dir = write_records(tmp_path / "run", recs)
    stats = RecordReadStats()
    blocks = list(iter_columns(run_dir, stats, block_bytes=1000))  # ~6 lines a block
    assert len(blocks) > 50 and stats.lines == 500 and not stats.skipped_torn_tail
    assert concat(blocks) == concat([columns_of(run_dir.iter_records())])
    assert [e for b in blocks for e in b.errors][:1] == [
        (3, ErrorKind.TOTAL_TIMEOUT, "timed out 3")
    ]
    series, requests = series_of(run_dir)
    assert requests == 500
    assert_same(series, reference_series(recs, 100_000))


def test_nulls_a_torn_tail_and_damage_read_as_iter_records_reads_them(tmp_path: Path) -> None:
    recs = sample_records(40)
    run_dir = write_records(tmp_path / "run", recs)
    path = run_dir.path / RECORDS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    # Explicit nulls (the narrow decoder refuses them, the full one accepts them) ...
    lines[2] = re.sub(rb'"sent_at":\d+', b'"sent_at":null', lines[2])
    path.write_bytes(b"".join(lines) + b'{"seq":40,"worker":0,"act')  # ... and a torn tail
    want = list(run_dir.iter_records())
    assert want[2].sent_at is None and len(want) == 40
    stats = RecordReadStats()
    got = list(iter_columns(run_dir, stats))
    assert concat(got) == concat([columns_of(want)])
    assert got[0].sent_at[2] == NO_TIME
    assert stats.lines == 40 and stats.skipped_torn_tail
    # A damaged line in the middle fails with iter_records' message and line number.
    lines[7] = b'{"seq": 7, "worker": "x"}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(RunDirError) as expected:
        list(run_dir.iter_records())
    with pytest.raises(RunDirError) as raised:
        list(iter_columns(run_dir, block_bytes=700))
    assert str(raised.value) == str(expected.value)
    assert f"{RECORDS_FILE}:8:" in str(raised.value)


def test_a_blank_line_is_damage_for_both_readers(tmp_path: Path) -> None:
    run_dir = write_records(tmp_path / "run", sample_records(5))
    path = run_dir.path / RECORDS_FILE
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n\n", 1))
    with pytest.raises(RunDirError) as expected:
        list(run_dir.iter_records())
    with pytest.raises(RunDirError) as raised:
        list(iter_columns(run_dir))
    assert str(raised.value) == str(expected.value)


def test_the_report_of_a_run_with_errors_and_streams_renders(tmp_path: Path) -> None:
    run_dir = write_records(tmp_path / "run", sample_records(300))
    text = render_run_html(run_dir.path)
    assert "total_timeout" in text and "timed out 3" in text
