"""Reading records back as columns: the few fields a report needs, as numpy arrays.

``RunDir.iter_records`` builds a full ``RequestRecord`` per line, which is what analysis
that looks at every field needs. The per-second series of the HTML report need six fields,
so ``iter_columns`` decodes only those (msgspec skips the rest without building them) and
hands them over a block of lines at a time, as arrays: about a tenth of the CPU per record,
and memory bounded by the block size whatever the run's length.

A valid records file gives exactly what ``iter_records`` gives. A block that the narrow
decoder refuses (a ``null`` a writer of an older version left, a damaged line) is decoded
again line by line with the full decoder, so a damaged line fails with the same message and
line number as ``iter_records``; a torn final line (killed mid-write) is skipped and noted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from agentload.errors import RunDirError
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RECORDS_FILE, RecordReadStats, RunDir, decode_record_line

IntArray = npt.NDArray[np.int64]
# A time that did not happen (never sent, no first token): below any run-clock time.
NO_TIME: Final = -(2**63)
OUTCOMES: Final = (Outcome.OK, Outcome.ERROR, Outcome.DROPPED, Outcome.CANCELLED)
OK, ERROR, DROPPED, CANCELLED = range(4)  # codes in ``RecordColumns.outcome``
BLOCK_BYTES: Final = 4 << 20  # ~24k records of a plain HTTP run per block
_CODE: Final = {str(o): code for code, o in enumerate(OUTCOMES)}
_ITL: Final = attrgetter("itl_ms")


class _Narrow(msgspec.Struct, gc=False):
    """The fields ``RecordColumns`` holds; every other field of a line is skipped."""

    intended_at: int
    done_at: int
    outcome: Literal["ok", "error", "dropped", "cancelled"]
    sent_at: int = NO_TIME
    first_token_at: int = NO_TIME
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    itl_ms: tuple[float, ...] = ()


_narrow = msgspec.json.Decoder(_Narrow)


@dataclass(frozen=True)
class RecordColumns:
    """Consecutive records of a run, in file order: one array entry per record."""

    intended_at: IntArray
    done_at: IntArray
    sent_at: IntArray  # NO_TIME where the request was never sent
    first_token_at: IntArray  # NO_TIME where no content token came
    outcome: npt.NDArray[np.int8]  # an index into OUTCOMES
    # Only the records that have them: (row, error_kind, error_message) of each error, and
    # (row, gaps) of each record with inter-token gaps.
    errors: list[tuple[int, ErrorKind | None, str | None]]
    itl_ms: list[tuple[int, tuple[float, ...]]]

    def __len__(self) -> int:
        return len(self.done_at)


def _columns(rows: Sequence[_Narrow | RequestRecord], times: Sequence[IntArray]) -> RecordColumns:
    n = len(rows)
    outcome = np.fromiter([_CODE[r.outcome] for r in rows], np.int8, n)
    errors = np.flatnonzero(outcome == ERROR)
    return RecordColumns(
        intended_at=np.fromiter([r.intended_at for r in rows], np.int64, n),
        done_at=np.fromiter([r.done_at for r in rows], np.int64, n),
        sent_at=times[0],
        first_token_at=times[1],
        outcome=outcome,
        errors=[(i, rows[i].error_kind, rows[i].error_message) for i in errors.tolist()],
        itl_ms=[(i, r.itl_ms) for i, r in enumerate(rows) if r.itl_ms] if _any_itl(rows) else [],
    )


def _any_itl(rows: Sequence[_Narrow | RequestRecord]) -> bool:
    return any(map(_ITL, rows))  # C-speed: a plain HTTP run has no gaps at all


def _narrow_columns(rows: list[_Narrow]) -> RecordColumns:
    n = len(rows)
    sent_at = np.fromiter([r.sent_at for r in rows], np.int64, n)
    first_token_at = np.fromiter([r.first_token_at for r in rows], np.int64, n)
    return _columns(rows, (sent_at, first_token_at))


def columns_of(records: Iterable[RequestRecord]) -> RecordColumns:
    """The columns of records already in memory (``SeriesBuilder.add``, tests)."""
    rows = list(records)
    n = len(rows)
    sent_at = [NO_TIME if r.sent_at is None else r.sent_at for r in rows]
    first_token_at = [NO_TIME if r.first_token_at is None else r.first_token_at for r in rows]
    times = (np.fromiter(sent_at, np.int64, n), np.fromiter(first_token_at, np.int64, n))
    return _columns(rows, times)


def iter_columns(
    run_dir: RunDir, stats: RecordReadStats | None = None, *, block_bytes: int = BLOCK_BYTES
) -> Iterator[RecordColumns]:
    """The run's records, a block of lines at a time (see the module docstring)."""
    stats = stats if stats is not None else RecordReadStats()
    path = run_dir.path / RECORDS_FILE
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise RunDirError(f"{path}: unreadable: {exc.strerror}") from None
    with handle:
        tail = b""
        while block := handle.read(block_bytes):
            block = tail + block
            end = block.rfind(b"\n") + 1
            block, tail = block[:end], block[end:]
            if block:
                yield _decode_block(path, block, stats)
        if tail:  # no newline at the end: a torn last line, unless it decodes
            try:
                record = msgspec.json.decode(tail, type=RequestRecord)
            except msgspec.DecodeError:
                stats.skipped_torn_tail = True
                return
            stats.lines += 1
            yield columns_of([record])


def _decode_block(path: Path, block: bytes, stats: RecordReadStats) -> RecordColumns:
    lines = block.count(b"\n")
    try:
        rows = _narrow.decode_lines(block)
    except msgspec.DecodeError:
        rows = None
    if rows is not None and len(rows) == lines:  # decode_lines skips blank lines; a file may not
        stats.lines += lines
        return _narrow_columns(rows)
    lines_of = (line + b"\n" for line in block.split(b"\n")[:-1])  # as iter_records reads them
    records = [decode_record_line(path, line, stats) for line in lines_of]
    return columns_of(records)
