"""``agentload export RUN_DIR --parquet|--csv`` read back by pandas and DuckDB."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from agentload.records.export import COLUMN_NAMES, export_parquet
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir
from tests.e2e.test_cli import REPO, agentload, assert_no_traceback

MS = 1_000_000


def write_run(path: Path, n: int) -> Path:
    run_dir = RunDir.create(path)
    run_dir.write_meta({"name": "export", "protocol": "openai-chat", "status": "complete"})
    writer = run_dir.record_writer()
    for i in range(n):
        start = i * 5 * MS
        if i % 10 == 9:
            writer.add(
                RequestRecord(
                    seq=i,
                    worker=1,
                    action="search",
                    intended_at=start,
                    sent_at=start + MS,
                    done_at=start + 30 * MS,
                    outcome=Outcome.ERROR,
                    error_kind=ErrorKind.HTTP_5XX,
                    error_message='bad, "quoted"\nanswer',
                    http_status=503,
                )
            )
            continue
        writer.add(
            RequestRecord(
                seq=i,
                worker=0,
                action="chat",
                session_id=f"s{i // 4}",
                turn=i % 4,
                intended_at=start,
                sent_at=start + 2 * MS,
                first_byte_at=start + 5 * MS,
                first_token_at=start + 10 * MS,
                done_at=start + (40 + i % 7) * MS,
                outcome=Outcome.OK,
                input_tokens=100 + i,
                output_tokens=8,
                itl_ms=(1.5, 2.5, 3.0),
                phases_ms={"queue": 1.0 + i % 3, "decode": 20.0},
            )
        )
    writer.close()
    return path


def test_parquet_is_read_by_pandas_and_duckdb(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 500)
    proc = agentload("export", str(run), "--parquet")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert "wrote 500 records" in proc.stderr
    out = run / "records.parquet"
    frame = pd.read_parquet(out)
    assert tuple(frame.columns) == COLUMN_NAMES and len(frame) == 500
    ok = frame[frame["outcome"] == "ok"]
    assert ok["latency_ms"].min() == 40.0 and ok["ttft_ms"].iloc[0] == 10.0
    assert ok["ttfb_ms"].iloc[0] == 3.0 and ok["schedule_lag_ms"].iloc[0] == 2.0
    assert list(ok["itl_ms"].iloc[0]) == [1.5, 2.5, 3.0]
    errors = frame[frame["outcome"] == "error"]
    assert len(errors) == 50 and set(errors["error_kind"]) == {"http_5xx"}
    assert errors["latency_ms"].iloc[0] == 30.0 and errors["http_status"].iloc[0] == 503

    con = duckdb.connect()
    p99, n_ok = con.execute(
        "SELECT quantile_disc(latency_ms, 0.99), count(*) FROM read_parquet(?) "
        "WHERE outcome = 'ok'",
        [str(out)],
    ).fetchone() or (None, None)
    assert n_ok == 450 and p99 == 46.0
    queue = con.execute(
        "SELECT sum(phases_ms['queue']) FROM read_parquet(?) WHERE outcome = 'ok'", [str(out)]
    ).fetchone()
    assert queue is not None and queue[0] == sum(1.0 + i % 3 for i in range(500) if i % 10 != 9)
    sessions = con.execute(
        "SELECT count(DISTINCT session_id), max(turn) FROM read_parquet(?)", [str(out)]
    ).fetchone()
    assert sessions == (125, 3)
    meta = json.loads(pq.read_schema(out).metadata[b"agentload.run"])
    assert meta["name"] == "export"


def test_batches_stream_and_row_groups_follow_the_batch_size(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 1000)
    result = export_parquet(run, tmp_path / "small-batches.parquet", batch_rows=300)
    assert result.rows == 1000
    parquet = pq.ParquetFile(tmp_path / "small-batches.parquet")
    assert parquet.metadata.num_rows == 1000 and parquet.metadata.num_row_groups == 4
    assert pd.read_parquet(tmp_path / "small-batches.parquet")["seq"].tolist() == list(range(1000))


def test_csv_export_and_custom_out_file(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 100)
    out = tmp_path / "r.csv"
    proc = agentload("export", str(run), "--csv", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(out)
    assert tuple(frame.columns) == COLUMN_NAMES and len(frame) == 100
    assert frame.loc[9, "error_message"] == 'bad, "quoted"\nanswer'
    assert json.loads(frame.loc[0, "phases_ms"]) == {"queue": 1.0, "decode": 20.0}
    count = duckdb.connect().execute("SELECT count(*) FROM read_csv_auto(?)", [str(out)])
    assert count.fetchone() == (100,)


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 10)
    for args in (
        (str(run),),  # no format
        (str(run), "--csv", "--parquet"),
        (str(tmp_path / "missing"), "--csv"),
        (str(run), "--csv", "--out", str(tmp_path / "no" / "such" / "dir.csv")),
    ):
        proc = agentload("export", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert_no_traceback(proc)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr


def test_missing_pyarrow_names_the_extra(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 10)
    # A pyarrow that cannot be imported, as on an install without the extra.
    blocker = tmp_path / "blocker"
    (blocker / "pyarrow").mkdir(parents=True)
    (blocker / "pyarrow" / "__init__.py").write_text("raise ImportError('no pyarrow')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "agentload", "export", str(run), "--parquet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{blocker}:{REPO / 'src'}", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert_no_traceback(proc)
    assert re.fullmatch(
        r"error: Parquet export needs pyarrow: pip install 'agentload\[parquet\]'\n", proc.stderr
    )
