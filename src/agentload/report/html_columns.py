"""Accumulators over blocks of record columns, for the report's per-second series.

``SecondCounts``: how many events fell in each second (exact, any run length).
``ThinnedRows``: the vectorised twin of ``analysis.compare_samples.Thinned``: fed the same
rows in the same order, it keeps exactly the rows ``Thinned`` keeps, so a report does not
depend on how its records were split into blocks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agentload.analysis.compare_samples import SAMPLE_CAP, FloatArray

IntArray = npt.NDArray[np.int64]


class SecondCounts:
    """Counts per whole second (seconds before 0 are not counted)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts = np.zeros(0, dtype=np.int64)

    def add(self, seconds: IntArray) -> None:
        seconds = seconds[seconds >= 0]
        if not len(seconds):
            return
        counts = np.bincount(seconds)
        if len(counts) > len(self._counts):
            counts[: len(self._counts)] += self._counts
            self._counts = counts.astype(np.int64)
        else:
            self._counts[: len(counts)] += counts

    def dense(self, n: int) -> list[int]:
        """Seconds 0..n-1 (zeros past the last count; counts from n on are left out)."""
        out = [int(v) for v in self._counts[:n]]
        return out + [0] * (n - len(out))


class ThinnedRows:
    """At most ``cap`` rows of ``width`` floats, evenly spread over every row offered.

    Row i (counting every row offered, from 0) is kept when i is a multiple of the stride;
    when the kept rows reach the cap, every other one goes and the stride doubles, so the
    kept rows are always the multiples of the stride (as ``Thinned``).
    """

    __slots__ = ("_blocks", "_cap", "_kept", "_seen", "_stride", "_width")

    def __init__(self, width: int, cap: int = SAMPLE_CAP) -> None:
        if cap < 2:
            raise ValueError("cap must be at least 2")
        self._width = width
        self._cap = cap
        self._stride = 1
        self._seen = 0
        self._kept = 0
        self._blocks: list[FloatArray] = []

    @property
    def stride(self) -> int:
        return self._stride

    def add(self, *columns: npt.NDArray[np.float64] | IntArray) -> None:
        """Rows made of ``columns`` (one array per field, all of one length), in order."""
        if len(columns) != self._width:
            raise ValueError(f"expected {self._width} columns, got {len(columns)}")
        offered = len(columns[0])
        first = -self._seen % self._stride  # the first new row whose index is a multiple
        self._seen += offered
        block = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
        block = block[first :: self._stride]
        if not len(block):
            return
        self._blocks.append(block)
        self._kept += len(block)
        while self._kept >= self._cap:
            kept = self.array()[::2]  # positions 0, 2, 4...: the multiples of twice the stride
            self._blocks = [kept]
            self._kept = len(kept)
            self._stride *= 2

    def array(self) -> FloatArray:
        """The kept rows, shape (rows, width)."""
        if not self._blocks:
            return np.zeros((0, self._width), dtype=np.float64)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]
