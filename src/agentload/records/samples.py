"""Telemetry samples: the time series collectors write beside the request records.

    <run dir>/telemetry.jsonl   one Sample per line, appended while the run goes on

A sample is what one collector saw at one instant of the run clock (the same clock as the
request records, so the two join on time)::

    {"at_ns": 1234567890, "collector": "host", "values": {"cpu_percent": 41.5, ...}}

``values`` maps a series name to a number. Names are dotted and carry their unit
(``cpu_percent``, ``mem_used_bytes``, ``gpu0.util_percent``, ``queue_length``); a collector
writes only the series it could read at that instant. Writing is line-buffered through
``SampleWriter`` and flushed by the same ticker as the records; a torn last line (a run killed
mid-write) is skipped by ``read_samples``, and so is any other unreadable line, since telemetry
is evidence, never the result itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from agentload.errors import RunDirError

TELEMETRY_FILE = "telemetry.jsonl"

# The load generator's own collector and the series its self-check reads.
GENERATOR_COLLECTOR = "generator"
GENERATOR_CPU_SERIES = "generator.cpu_percent"
GENERATOR_LAG_SERIES = "generator.loop_lag_ms"


class Sample(msgspec.Struct, frozen=True):
    at_ns: int
    collector: str
    values: dict[str, float]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Sample)


class SampleWriter:
    """Appends samples as JSON lines; ``flush`` makes them durable up to the OS."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("ab")
        self._buffer: list[bytes] = []
        self.count = 0

    def add(self, sample: Sample) -> None:
        self._buffer.append(_encoder.encode(sample) + b"\n")
        self.count += 1

    def flush(self) -> None:
        if self._buffer:
            self._file.write(b"".join(self._buffer))
            self._buffer.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()


def iter_samples(run_dir: Path) -> Iterator[Sample]:
    """Every readable sample of a run directory in file order; none when there is no file."""
    path = run_dir / TELEMETRY_FILE
    if not path.exists():
        return
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise RunDirError(f"{path}: unreadable: {exc.strerror}") from None
    with handle:
        for line in handle:
            try:
                yield _decoder.decode(line)
            except msgspec.DecodeError:
                continue


def read_samples(run_dir: Path) -> list[Sample]:
    return list(iter_samples(run_dir))


def series(samples: list[Sample], name: str) -> tuple[list[int], list[float]]:
    """The (times in ns, values) of one series across all collectors, in time order."""
    points = sorted((s.at_ns, s.values[name]) for s in samples if name in s.values)
    return [t for t, _ in points], [v for _, v in points]
