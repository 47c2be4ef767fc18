"""Export a run's records to Parquet or CSV, one row per request (columns in docs/export.md).

Both formats stream: records are read from records.jsonl and written in batches of
``BATCH_ROWS`` rows, so memory stays bounded whatever the size of the run. Parquet needs
pyarrow (the ``parquet`` extra), imported only here and only when asked for; CSV needs
nothing, and writes ``itl_ms`` and ``phases_ms`` as JSON text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agentload.errors import RunDirError, UsageError
from agentload.records.record import RequestRecord
from agentload.records.rundir import RecordReadStats, RunDir

BATCH_ROWS: Final = 65_536
PARQUET_EXTRA_HINT: Final = "pip install 'agentload[parquet]'"


def _value(kind: Any) -> str | None:
    return None if kind is None else str(kind.value)


# name, Arrow type name, how to read it from a record. Times are ns on the run clock.
_Getter = Callable[[RequestRecord], Any]
_COLUMNS: Final[tuple[tuple[str, str, _Getter], ...]] = (
    ("seq", "int64", lambda r: r.seq),
    ("worker", "int32", lambda r: r.worker),
    ("action", "string", lambda r: r.action),
    ("persona", "string", lambda r: getattr(r, "persona", None)),
    ("session_id", "string", lambda r: r.session_id),
    ("turn", "int32", lambda r: r.turn),
    ("user", "int32", lambda r: r.user),
    ("outcome", "string", lambda r: r.outcome.value),
    ("slow", "bool", lambda r: bool(getattr(r, "slow", False))),
    ("error_kind", "string", lambda r: _value(r.error_kind)),
    ("error_message", "string", lambda r: r.error_message),
    ("http_status", "int32", lambda r: r.http_status),
    ("attempts", "int32", lambda r: getattr(r, "attempts", 1)),
    ("first_error_kind", "string", lambda r: _value(getattr(r, "first_error_kind", None))),
    ("intended_at_ns", "int64", lambda r: r.intended_at),
    ("released_at_ns", "int64", lambda r: getattr(r, "released_at", None)),
    ("sent_at_ns", "int64", lambda r: r.sent_at),
    ("first_byte_at_ns", "int64", lambda r: r.first_byte_at),
    ("first_token_at_ns", "int64", lambda r: r.first_token_at),
    ("done_at_ns", "int64", lambda r: r.done_at),
    ("latency_ms", "float64", lambda r: r.latency_ms),
    ("service_ms", "float64", lambda r: r.service_ms),
    ("schedule_lag_ms", "float64", lambda r: r.schedule_lag_ms),
    ("ttfb_ms", "float64", lambda r: r.ttfb_ms),
    ("ttft_ms", "float64", lambda r: r.ttft_ms),
    ("tpot_ms", "float64", lambda r: r.tpot_ms),
    ("input_tokens", "int64", lambda r: r.input_tokens),
    ("output_tokens", "int64", lambda r: r.output_tokens),
    ("tokens_approx", "bool", lambda r: r.tokens_approx),
    ("chunks", "int32", lambda r: r.chunks),
    ("polls", "int32", lambda r: r.polls),
    ("itl_ms", "list<float64>", lambda r: list(r.itl_ms)),
    ("phases_ms", "map<string, float64>", lambda r: dict(r.phases_ms)),
)
COLUMN_NAMES: Final = tuple(name for name, _, _ in _COLUMNS)


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    skipped_torn_tail: bool


def _batches(records: Iterable[RequestRecord], size: int) -> Iterator[list[RequestRecord]]:
    batch: list[RequestRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise UsageError(f"Parquet export needs pyarrow: {PARQUET_EXTRA_HINT}") from None
    return pa, pq


def _arrow_schema(pa: Any) -> Any:
    types = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "list<float64>": pa.list_(pa.float64()),
        "map<string, float64>": pa.map_(pa.string(), pa.float64()),
    }
    return pa.schema([(name, types[kind]) for name, kind, _ in _COLUMNS])


def export_parquet(
    run_path: Path, out: Path, *, batch_rows: int = BATCH_ROWS, compression: str = "zstd"
) -> ExportResult:
    pa, pq = _import_pyarrow()
    run_dir = RunDir.open(run_path)
    meta = run_dir.read_meta()
    schema = _arrow_schema(pa).with_metadata(
        {"agentload.run": json.dumps(meta, default=str), "agentload.columns": "docs/export.md"}
    )
    stats = RecordReadStats()
    rows = 0
    try:
        with pq.ParquetWriter(str(out), schema, compression=compression) as writer:
            for batch in _batches(run_dir.iter_records(stats), batch_rows):
                columns = [[get(r) for r in batch] for _, _, get in _COLUMNS]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
                rows += len(batch)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write: {exc}") from None
    return ExportResult(out, rows, stats.skipped_torn_tail)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def export_csv(run_path: Path, out: Path, *, batch_rows: int = BATCH_ROWS) -> ExportResult:
    run_dir = RunDir.open(run_path)
    stats = RecordReadStats()
    rows = 0
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMN_NAMES)
            for batch in _batches(run_dir.iter_records(stats), batch_rows):
                writer.writerows([_csv_cell(get(r)) for _, _, get in _COLUMNS] for r in batch)
                rows += len(batch)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return ExportResult(out, rows, stats.skipped_torn_tail)
