"""Latency histogram: HDR buckets for percentiles, exact running statistics for the rest.

Values are recorded as integer microseconds (1 µs .. 1 h, 3 significant digits, so a bucket
is at most ~0.1% wide) and read back in milliseconds. Bucket edges alone are how other tools
end up reporting p99 > max; here count, min, max, mean and standard deviation are tracked
exactly, and every percentile is clamped into [min, max], so ``min <= p <= max`` always holds.

Percentile definition (nearest rank, numpy's ``method="inverted_cdf"``): the value of the
``ceil(p/100 * n)``-th smallest sample (at least rank 1), reported as the upper edge of its
HDR bucket, then clamped into [min, max]; p0 is min and p100 is max exactly.

Recording is deferred: ``record_ms`` appends the value to a flat buffer and the buffer is
folded into the buckets and the exact statistics in one vectorised step when it fills or
before anything reads the histogram. Bucket counts, count, min and max are identical to
recording one value at a time; mean and M2 are combined per batch (Chan et al.), so they
can differ from a one-at-a-time update in the last bits of a double, never in a printed digit.

Memory: the buckets (1 µs .. 1 h at 3 digits: 23,552 counts, 184 KiB) live in an anonymous
mapping, which reads as zeros and is resident only where written, so a histogram holds just
the pages its values fall in (a few tens of KB). Blobs are HdrHistogram's V2 format
(``hdr_format``), byte for byte what hdrh and the other HDR implementations write.

A hot caller whose values are finite by construction (differences of integer nanoseconds)
may append to ``pending_ms`` directly, skipping the call and the check, provided it calls
``fold_if_full`` at least every ``FLUSH_AT`` values so that memory stays bounded.
"""

from __future__ import annotations

import math
import mmap
from array import array
from collections.abc import Iterable, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from agentload.metrics import hdr_format
from agentload.metrics.hdr_format import HdrLayout

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
_FLUSH_AT = 2048  # buffered values per fold: ~16 KB, folded in ~0.1 ms
FLUSH_AT = _FLUSH_AT
_LAYOUT = HdrLayout(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
_COUNTS_LEN = _LAYOUT.counts_len


# Private, so that a forked process writes its own copy of the pages, as with heap memory
# (an anonymous mapping is shared by default on POSIX). Windows has neither flags nor fork.
_PRIVATE = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}


def _zeroed_counts() -> npt.NDArray[np.uint64]:
    # Anonymous pages read as zero and cost no memory until written (see the module docstring).
    buckets = mmap.mmap(-1, _COUNTS_LEN * 8, **_PRIVATE)
    counts: npt.NDArray[np.uint64] = np.frombuffer(buckets, np.uint64)
    return counts


# HdrHistogram's counts index of a value v >= 1 (in units of LOWEST_US): its bucket is
# b = max(bit_length(v) - _BUCKET_SHIFT, 0) and its index (b << half_mag) + (v >> (b + unit)).
_UNIT = _LAYOUT.unit_magnitude
_HALF_MAGNITUDE = _LAYOUT.half_count_magnitude
_BUCKET_SHIFT = _UNIT + _HALF_MAGNITUDE + 1


def _indices(values_us: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """The counts index of each value (whole microseconds within range, as floats), in a few
    vectorised steps; frexp's exponent is the bit length (exact below 2**53, far above
    HIGHEST_US). tests/unit/metrics/test_record_path.py checks it against hdrh's own."""
    bucket = np.frexp(values_us)[1]
    bucket -= _BUCKET_SHIFT
    np.maximum(bucket, 0, out=bucket)
    whole_us = values_us.astype(np.int64)
    indices: npt.NDArray[np.int64] = (bucket << _HALF_MAGNITUDE) + (
        whole_us >> (bucket + _UNIT if _UNIT else bucket)
    )
    return indices


def warm_up() -> None:
    """Fold a few values into a throwaway histogram. The first fold of a process costs
    ~2-4 ms (numpy sets up the loops it uses, the first buckets are mapped), then ~0.2 ms:
    a load generator pays that before its load, not on the event loop mid-run."""
    histogram = LatencyHistogram()
    histogram.pending_ms.extend((0.5, 3.0, 70.0, 2.0 * HIGHEST_US / 1000))
    histogram.fold()


class ExactStats(msgspec.Struct, frozen=True, kw_only=True):
    """The exactly tracked part of a histogram; travels beside the HDR blob in encode/decode."""

    count: int
    min_ms: float
    max_ms: float
    mean_ms: float
    m2_ms2: float  # sum of squared deviations from the mean (Welford), for a mergeable std
    overflow: int


class LatencyHistogram:
    """Bounded-memory (≤ 184 KiB, usually a few pages) millisecond histogram; values outside
    1 µs .. 1 h are clamped.

    A value below 1 µs (including a negative one) is bucketed as 1 µs; one above an hour is
    bucketed as an hour and counted in ``overflow``. The exact statistics keep the true value.
    """

    __slots__ = (
        "_count",
        "_counts_or_none",
        "_high_index",
        "_low_index",
        "_m2",
        "_max",
        "_mean",
        "_min",
        "_overflow",
        "_pending",
    )

    def __init__(self) -> None:
        # The buckets are mapped on first use: many histograms of a run (TTFT of plain
        # requests, job phases, ...) never receive a value.
        self._counts_or_none: npt.NDArray[np.uint64] | None = None
        # The span of buckets that may be non-zero (empty while low > high): reads, merges
        # and encodes look at it alone, so they touch no page outside it.
        self._low_index = _COUNTS_LEN
        self._high_index = -1
        # Recorded but not yet folded into the buckets; the same array for the histogram's
        # life (``pending_ms``), so a hot caller may hold on to its ``append``.
        self._pending = array("d")
        self._count = 0
        self._overflow = 0
        self._min = math.inf
        self._max = -math.inf
        self._mean = 0.0
        self._m2 = 0.0

    @property
    def _counts(self) -> npt.NDArray[np.uint64]:
        counts = self._counts_or_none
        if counts is None:
            counts = self._counts_or_none = _zeroed_counts()
        return counts

    def _add_counts(self, low: int, added: npt.NDArray[np.uint64]) -> None:
        """Add ``added`` to the buckets from index ``low`` on."""
        high = low + len(added) - 1
        self._counts[low : high + 1] += added
        self._low_index = min(self._low_index, low)
        self._high_index = max(self._high_index, high)

    def _span(self) -> tuple[int, npt.NDArray[np.uint64]]:
        """(first index, the counts from there to the last bucket that may be non-zero)."""
        low = self._low_index
        return low, self._counts[low : self._high_index + 1]

    @property
    def count(self) -> int:
        return self._count + len(self._pending)

    @property
    def overflow(self) -> int:
        """Values above an hour (bucketed as an hour; their exact value is in the stats)."""
        self._fold()
        return self._overflow

    @property
    def pending_ms(self) -> array[float]:
        """The buffer ``record_ms`` appends to (see the module docstring): finite values only."""
        return self._pending

    def fold_if_full(self) -> None:
        if len(self._pending) >= _FLUSH_AT:
            self._fold()

    def fold(self) -> None:
        """Fold what is buffered now (a caller spreading folds over time picks when)."""
        self._fold()

    def allocate(self) -> None:
        """Map the buckets now rather than at the first fold (a load generator would rather
        spend that before its load starts)."""
        self._counts  # noqa: B018 - maps the buckets

    def record_ms(self, value_ms: float) -> None:
        # The hot path: one check and one append; the bucket arithmetic runs per batch.
        if not math.isfinite(value_ms):
            raise ValueError(f"cannot record a non-finite value: {value_ms!r}")
        pending = self._pending
        pending.append(value_ms)
        if len(pending) >= _FLUSH_AT:
            self._fold()

    def record_many_ms(self, values_ms: Sequence[float]) -> None:
        """Record a batch (such as one request's inter-token gaps)."""
        if not all(map(math.isfinite, values_ms)):
            raise ValueError("cannot record non-finite values")
        pending = self._pending
        pending.extend(values_ms)
        if len(pending) >= _FLUSH_AT:
            self._fold()

    def _fold(self) -> None:
        """Fold the buffered values into the buckets and the exact statistics.

        Few numpy calls, as each costs far more than its arithmetic on a batch this size,
        and many times more again on a core that was just idle (bench/idle_penalty.py)."""
        if not self._pending:
            return
        values = np.array(self._pending, dtype=np.float64)  # a copy: the buffer is reused
        del self._pending[:]
        low_ms, high_ms = float(values.min()), float(values.max())
        scaled_us = values * 1000.0
        np.rint(scaled_us, out=scaled_us)  # half to even, as Python's round()
        # The batch's extremes tell whether any value may need clamping (rarely: below 1 µs
        # or above an hour; a huge finite value scales to inf). Erring towards clamping costs
        # nothing: the clamp and the overflow count are exact either way.
        if high_ms * 1000.0 >= HIGHEST_US or low_ms * 1000.0 <= LOWEST_US - 0.5:
            self._overflow += int(np.count_nonzero(scaled_us > HIGHEST_US))
            np.clip(scaled_us, LOWEST_US, HIGHEST_US, out=scaled_us)
        indices = _indices(scaled_us)
        low = int(indices.min())
        indices -= low
        # bincount over the batch's span of buckets: ~5x cheaper than np.add.at, same counts.
        self._add_counts(low, np.bincount(indices).astype(np.uint64))
        if low_ms >= 0.0:
            # No cancellation among same-sign values: numpy's pairwise sum is within a few
            # ulps of the exact sum, at a tenth of the cost of fsum over a Python list (which
            # was 40% of a fold: 50 µs per 2,048 values).
            batch_mean = float(np.sum(values)) / len(values)
        else:
            batch_mean = math.fsum(values.tolist()) / len(values)  # correctly rounded sum
        deviations = values - batch_mean
        self._combine(len(values), low_ms, high_ms, batch_mean, float(deviations @ deviations))

    def _combine(self, count: int, min_ms: float, max_ms: float, mean: float, m2: float) -> None:
        # Chan et al.'s parallel update: merging means and M2 without the samples.
        if count == 0:
            return
        if self._count == 0:  # plain copy: keeps a decoded or merged-into-empty mean bit-exact
            self._count, self._min, self._max, self._mean, self._m2 = (
                count,
                min_ms,
                max_ms,
                mean,
                m2,
            )
            return
        total = self._count + count
        delta = mean - self._mean
        self._mean += delta * count / total
        self._m2 += m2 + delta * delta * self._count * count / total
        self._count = total
        self._min = min(self._min, min_ms)
        self._max = max(self._max, max_ms)

    @property
    def min_ms(self) -> float | None:
        self._fold()
        return self._min if self.count else None

    @property
    def max_ms(self) -> float | None:
        self._fold()
        return self._max if self.count else None

    @property
    def mean_ms(self) -> float | None:
        self._fold()
        return self._mean if self.count else None

    @property
    def stdev_ms(self) -> float | None:
        """Population standard deviation (ddof=0, as numpy.std)."""
        self._fold()
        return math.sqrt(max(self._m2, 0.0) / self.count) if self.count else None

    def percentile_ms(self, p: float) -> float | None:
        """The p-th percentile (0..100) as defined in the module docstring; None when empty."""
        return self.percentiles_ms((p,))[0]

    def percentiles_ms(self, ps: Iterable[float]) -> list[float | None]:
        """Several percentiles from one pass over the buckets."""
        wanted = list(ps)
        for p in wanted:
            if not 0 <= p <= 100:
                raise ValueError(f"a percentile must be within 0..100, got {p}")
        self._fold()
        if self._count == 0:
            return [None] * len(wanted)
        low, counts = self._span()
        cumulative = np.cumsum(counts)
        total = int(cumulative[-1])
        out: list[float | None] = []
        for p in wanted:
            if p == 0:
                out.append(self._min)
            elif p == 100:
                out.append(self._max)
            else:
                index = low + int(np.searchsorted(cumulative, _rank(p, total), side="left"))
                upper_us = _LAYOUT.highest_equivalent(_LAYOUT.value_from_index(index))
                out.append(min(max(upper_us / 1000, self._min), self._max))
        return out

    def merge(self, other: LatencyHistogram) -> None:
        """Add other's samples into this histogram (exact: same buckets, Chan-merged stats)."""
        self._fold()
        other._fold()
        if other._count == 0:
            return
        self._add_counts(*other._span())
        self._overflow += other._overflow
        self._combine(other.count, other._min, other._max, other._mean, other._m2)

    @property
    def stats(self) -> ExactStats:
        self._fold()
        return ExactStats(
            count=self.count,
            min_ms=self._min if self.count else 0.0,
            max_ms=self._max if self.count else 0.0,
            mean_ms=self._mean,
            m2_ms2=self._m2,
            overflow=self.overflow,
        )

    def encode(self) -> str:
        """HdrHistogram's compressed base64 histoblob (V2), readable by any HDR implementation.

        The blob carries only the buckets; send ``stats`` beside it to keep min/max/mean exact.
        """
        self._fold()
        if not self._count:
            return hdr_format.encode(_LAYOUT, 0, np.zeros(0, np.uint64))
        return hdr_format.encode(_LAYOUT, *self._span())

    @classmethod
    def decode(cls, blob: str | bytes, stats: ExactStats | None = None) -> LatencyHistogram:
        """Rebuild from ``encode()``'s blob (or any HDR V2 blob of integer microseconds:
        another layout's buckets are converted by their lowest value, as HDR's own ``add``
        does); without ``stats``, min/max/mean/std come from the buckets (accurate to
        ~0.1%) and ``overflow`` is unknown, so 0. Raises ValueError for a bad blob."""
        layout, pairs = hdr_format.decode(blob)
        counts: dict[int, int] = {}
        for index, count in pairs:
            if layout != _LAYOUT:
                value = layout.value_from_index(index)
                if value > HIGHEST_US:
                    raise ValueError(f"histogram blob holds {value} µs, above {HIGHEST_US} µs")
                index = _LAYOUT.index_of(value)
            counts[index] = counts.get(index, 0) + count
            if counts[index] >= 2**63:  # more than a uint64 bucket (and any real run) holds
                raise ValueError("histogram blob: a bucket count out of range")
        histogram = cls()
        total = sum(counts.values())
        if total:
            low, high = min(counts), max(counts)
            span = np.zeros(high - low + 1, np.uint64)
            for index, count in counts.items():
                span[index - low] = count
            histogram._add_counts(low, span)
        if stats is not None:
            if stats.count != total:
                raise ValueError(f"stats count {stats.count} != histogram count {total}")
            histogram._combine(stats.count, stats.min_ms, stats.max_ms, stats.mean_ms, stats.m2_ms2)
            histogram._overflow = stats.overflow
        elif total:
            low_us = _LAYOUT.lowest_equivalent(_LAYOUT.value_from_index(min(counts)))
            high_us = _LAYOUT.highest_equivalent(_LAYOUT.value_from_index(max(counts)))
            mean_us, m2_us2 = _bucket_moments(counts, total)
            histogram._combine(total, low_us / 1000, high_us / 1000, mean_us / 1000, m2_us2 / 1e6)
        return histogram


def _bucket_moments(counts: dict[int, int], total: int) -> tuple[float, float]:
    """Mean and M2 of a histogram known only by its buckets, each count at its bucket's
    middle value (HDR's "median equivalent", as its own mean and deviation take it)."""
    middles = {i: _LAYOUT.median_equivalent(_LAYOUT.value_from_index(i)) for i in counts}
    mean = sum(middles[i] * c for i, c in sorted(counts.items())) / total
    m2 = sum((middles[i] - mean) ** 2 * c for i, c in sorted(counts.items()))
    return mean, m2


def _rank(p: float, n: int) -> int:
    """ceil(p/100 * n) in integer arithmetic, so that 99.9% of 1000 is 999, not 1000."""
    scaled = round(p * 10_000)  # resolution 0.0001 percentile points
    return max(1, -(-scaled * n // 1_000_000))
