"""Reading trace files: CSV with a header row, or JSON Lines (one object per line).

Records come out with their 1-based line number, so every error can say where it is. CSV
values that are plainly numbers become int or float (token counts arrive typed, as in JSONL);
an empty CSV cell is None. Files ending in .gz are decompressed on the fly.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from agentload.errors import UsageError

__all__ = ["TRACE_FORMATS", "Record", "TraceFormatError", "read_records"]

TRACE_FORMATS = ("csv", "jsonl")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Record = Mapping[str, object]


class TraceFormatError(UsageError, ValueError):
    """A trace file that cannot be replayed; names the file, the line and the field."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str) -> None:
        self.path, self.line, self.field = path, line, field
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: " + (f"field {field!r}: " if field else "") + message)


def trace_format(path: Path, format: str | None) -> str:
    """The format named, or the one the file name implies (ignoring a .gz suffix)."""
    if format is not None:
        if format not in TRACE_FORMATS:
            raise ValueError(
                f"unknown trace format {format!r}; expected one of {', '.join(TRACE_FORMATS)}"
            )
        return format
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise TraceFormatError(
        str(path), None, None, "cannot tell the format from the name; say format: csv or jsonl"
    )


def read_records(
    path: Path, format: str | None, required: Sequence[str]
) -> Iterator[tuple[int, Record]]:
    """``(line, record)`` for each data row of ``path``. A CSV header must name every field
    in ``required``; in JSONL a missing field is left for the caller to report per line."""
    fmt = trace_format(path, format)
    with _open(path) as text:
        records = _csv(text, str(path), required) if fmt == "csv" else _jsonl(text, str(path))
        try:
            yield from records
        except UnicodeDecodeError as exc:
            raise TraceFormatError(
                str(path), None, None, f"not UTF-8 text ({exc.reason})"
            ) from None


def _open(path: Path) -> IO[str]:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark. newline="": csv
    # handles line endings itself, including newlines inside quoted cells.
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _csv(text: IO[str], path: str, required: Sequence[str]) -> Iterator[tuple[int, Record]]:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            return
        missing = [f for f in required if f not in header]
        if missing:
            columns = ", ".join(repr(h) for h in header)
            raise TraceFormatError(path, 1, missing[0], f"no such column; the header has {columns}")
        for values in reader:
            if not values:
                continue  # a blank line
            if len(values) != len(header):
                raise TraceFormatError(
                    path,
                    reader.line_num,
                    None,
                    f"{len(values)} values, but the header has {len(header)} columns",
                )
            yield reader.line_num, {h: _scalar(v) for h, v in zip(header, values, strict=True)}
    except csv.Error as exc:
        raise TraceFormatError(path, reader.line_num, None, f"malformed CSV: {exc}") from None


def _scalar(cell: str) -> object:
    if cell == "":
        return None
    if _INT.fullmatch(cell):
        return int(cell)
    if _FLOAT.fullmatch(cell):
        return float(cell)
    return cell


def _jsonl(text: IO[str], path: str) -> Iterator[tuple[int, Record]]:
    for line, raw in enumerate(text, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TraceFormatError(path, line, None, f"not valid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise TraceFormatError(path, line, None, "expected a JSON object per line")
        yield line, record
