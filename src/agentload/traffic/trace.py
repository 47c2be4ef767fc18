"""Trace replay: arrivals at the times recorded in a CSV or JSONL file, optionally faster.

``TraceReplay.load`` reads the file once, when the plan is built; after that the replay is
pure data and ``offsets_s`` ignores its generator. Timestamps may be absolute (epoch) or
relative, in s, ms, us, ns or ISO 8601 ("iso"; a zone-less time is read as UTC); they are
shifted so the earliest is 0. Rows are sorted by time by default (stable: ties keep file
order), because traces merged from several servers are rarely in order; ``sort=False``
rejects a file whose times go backwards instead. ``fields`` names per-row values to carry
along (token counts, prompts, ...): ``rows()[i]`` belongs to the i-th arrival, so request
builders can consume them in schedule order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from agentload.traffic.trace_files import Record, TraceFormatError, read_records

__all__ = ["TIME_UNITS", "TraceFormatError", "TraceReplay"]

# Units per second (dividing by these is correctly rounded: 7 ns is exactly 7e-9 s); "iso"
# timestamps are converted to integer microseconds first.
_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9, "iso": 1e6}
TIME_UNITS = tuple(_PER_SECOND)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_FIELDS: Mapping[str, object] = MappingProxyType({})
_CHUNK = 4096


class TraceReplay:
    """Arrivals at recorded offsets divided by ``speed`` (2.0 replays twice as fast)."""

    __slots__ = ("_offsets", "_rows", "source", "speed")

    def __init__(
        self,
        offsets_s: Sequence[float] | npt.NDArray[np.float64],
        rows: Sequence[Mapping[str, object]] | None = None,
        *,
        speed: float = 1.0,
        source: str = "<memory>",
    ) -> None:
        offsets = np.array(offsets_s, dtype=np.float64)
        if offsets.ndim != 1 or offsets.size == 0:
            raise ValueError(f"{source}: a trace needs at least one timestamp")
        if not (np.all(np.isfinite(offsets)) and offsets[0] >= 0 and np.all(np.diff(offsets) >= 0)):
            raise ValueError(f"{source}: offsets must be finite, >= 0 and non-decreasing")
        if rows is not None and len(rows) != offsets.size:
            raise ValueError(f"{source}: {len(rows)} rows for {offsets.size} timestamps")
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
        offsets.flags.writeable = False  # shared by with_speed copies
        self._offsets = offsets
        self._rows = tuple(rows) if rows is not None else (_NO_FIELDS,) * offsets.size
        self.speed = float(speed)
        self.source = source

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        time_field: str = "timestamp",
        unit: str = "s",
        speed: float = 1.0,
        fields: Sequence[str] = (),
        format: str | None = None,
        sort: bool = True,
    ) -> TraceReplay:
        """Read ``path`` (.csv or .jsonl/.ndjson, optionally .gz; or say ``format``).

        Raises ``TraceFormatError`` (a ``ValueError``) naming the file, line and field of the
        first problem; ``OSError`` if the file cannot be read.
        """
        if unit not in _PER_SECOND:
            raise ValueError(f"unknown time unit {unit!r}; expected one of {', '.join(TIME_UNITS)}")
        source = str(path)
        stamps: list[int | float] = []
        rows: list[Mapping[str, object]] = []
        for line, record in read_records(Path(path), format, (time_field, *fields)):
            stamp = _timestamp(record.get(time_field), unit, source, line, time_field)
            if not sort and stamps and stamp < stamps[-1]:
                raise TraceFormatError(
                    source, line, time_field, f"time goes backwards (sort=False): {stamp!r}"
                )
            stamps.append(stamp)
            if fields:
                rows.append(MappingProxyType(_carried(record, fields, source, line)))
        if not stamps:
            raise TraceFormatError(source, None, None, "no rows: a trace needs at least one")
        order = sorted(range(len(stamps)), key=stamps.__getitem__)  # stable
        first = stamps[order[0]]
        # Subtract before scaling: exact for integer epochs (ns since 1970 exceed 2**53).
        per_second = _PER_SECOND[unit]
        offsets = np.array([(stamps[i] - first) / per_second for i in order], dtype=np.float64)
        if not np.all(np.isfinite(offsets)):
            raise TraceFormatError(source, None, time_field, "timestamps span too wide a range")
        return cls(
            offsets, [rows[i] for i in order] if fields else None, speed=speed, source=source
        )

    def offsets_s(self, rng: np.random.Generator) -> Iterator[float]:
        """The recorded offsets over ``speed``; ``rng`` is unused (a trace is not random)."""
        return self._scaled()

    def _scaled(self) -> Iterator[float]:
        # A chunk at a time: a long trace is not copied whole into a list of floats.
        for start in range(0, self._offsets.size, _CHUNK):
            yield from (self._offsets[start : start + _CHUNK] / self.speed).tolist()

    def rows(self) -> Sequence[Mapping[str, object]]:
        """The carried fields of each arrival, in arrival order (empty mappings if none)."""
        return self._rows

    def with_speed(self, speed: float) -> TraceReplay:
        return TraceReplay(self._offsets, self._rows, speed=speed, source=self.source)

    @property
    def duration_s(self) -> float:
        """Offset of the last arrival at this speed."""
        return float(self._offsets[-1]) / self.speed

    def __len__(self) -> int:
        return int(self._offsets.size)

    def __repr__(self) -> str:
        return f"TraceReplay({self.source!r}, {len(self)} arrivals, speed={self.speed!r})"


def _timestamp(value: object, unit: str, path: str, line: int, field: str) -> int | float:
    def bad(why: str) -> TraceFormatError:
        return TraceFormatError(path, line, field, why)

    if value is None:
        raise bad("missing")
    if unit == "iso":
        if not isinstance(value, str):
            raise bad(f"{value!r} is not an ISO 8601 time")
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise bad(f"{value!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - _EPOCH) // _MICROSECOND
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad(f"{value!r} is not a number of {unit}")
    if isinstance(value, str):
        try:
            value = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise bad(f"{value!r} is not a number of {unit}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(f"{value!r} is not a finite time")
    return value


def _carried(record: Record, fields: Sequence[str], path: str, line: int) -> dict[str, object]:
    missing = [f for f in fields if f not in record]
    if missing:
        raise TraceFormatError(path, line, missing[0], "missing (listed in fields)")
    return {f: record[f] for f in fields}
