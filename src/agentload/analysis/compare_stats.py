"""The statistics behind ``agentload compare``: intervals for a difference between two runs.

Percentiles: a moving-block bootstrap over requests, per run, seeded. Latencies of
neighbouring requests are correlated (a queue that built up delays everyone behind it; a
pause of the host delays every request in flight at once), so resampling single requests
makes intervals too narrow and raises false alarms. Samples stay in schedule order and are
cut into at most ``BLOCKS`` (20) contiguous blocks of resampling units (a unit is one request;
every inter-token gap of a request belongs to its request's unit), each at least
``n ** (1/3)`` units long. Twenty blocks means each block is a twentieth of the run, so the
interval carries the drift *within* a run (seconds of contention, a stall that hit many
requests together), not only request-to-request noise: measured on 20 same-configuration
pairs, the TTFT p50 false alarms at zero tolerance fell from 11 to 6 with these blocks
(``bench/compare_false_alarm.py``). Each bootstrap replicate gives every block a multinomial
weight, and the replicate's percentile is the weighted nearest-rank value. The interval of
``new - base`` is the percentile interval of the replicate differences.

Rates: the standard error of each run's rate is the larger of the Poisson one
(``sqrt(count) / T``) and the batch-means one (the spread of the rate over ``BLOCKS`` equal
time windows, over ``sqrt(BLOCKS)``), so throughput that wandered during a run widens the
interval; normal interval of the difference. Error rate: two proportions, Agresti–Caffo
interval (one error and one success added to each run), reliable for small counts and for
zero errors.

What no within-run interval can see is a shift of a whole run (another job on the host for
the whole of one run, a cache that was warm for one run only). ``agentload.analysis.compare``
widens every interval by ``BETWEEN_RUN_FACTOR`` (``widened``) for it; see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
RESAMPLES: Final = 1000
BLOCKS: Final = 20  # at most this many resampling blocks per run: see the module docstring
_BATCH_CELLS: Final = 4_000_000  # replicates × samples per numpy step (~32 MB of weights)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def nearest_rank(values: FloatArray, p: float) -> float:
    """The p-th percentile by nearest rank (the summary's definition)."""
    ordered = np.sort(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def bootstrap_percentile(
    values: FloatArray,
    p: float,
    rng: np.random.Generator,
    *,
    units: IntArray | None = None,
    resamples: int = RESAMPLES,
) -> FloatArray:
    """``resamples`` block-bootstrap replicates of the p-th percentile of ``values``.

    ``values`` are in schedule order; ``units[i]`` is the resampling unit of value i
    (non-decreasing, 0-based); by default each value is its own unit.
    """
    n = len(values)
    if n == 0:
        raise ValueError("no values to resample")
    unit = np.arange(n, dtype=np.int64) if units is None else units
    n_units = int(unit[-1]) + 1
    block_len = block_length(n_units)
    block = unit // block_len
    n_blocks = int(block[-1]) + 1
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    sorted_block = block[order]
    out = np.empty(resamples, dtype=np.float64)
    batch = max(1, _BATCH_CELLS // n)
    uniform = np.full(n_blocks, 1 / n_blocks)
    for start in range(0, resamples, batch):
        size = min(batch, resamples - start)
        weights = rng.multinomial(n_blocks, uniform, size=size).astype(np.float32)
        cumulative = np.cumsum(weights[:, sorted_block], axis=1)
        target = np.ceil(p / 100 * cumulative[:, -1])
        target = np.maximum(target, 1)
        index = (cumulative < target[:, None]).sum(axis=1)
        out[start : start + size] = sorted_values[np.minimum(index, n - 1)]
    return out


def block_length(n_units: int, blocks: int | None = None) -> int:
    """Units per block: the larger of ``n ** (1/3)`` and ``n / BLOCKS``."""
    most = BLOCKS if blocks is None else blocks
    cube_root: float = n_units ** (1 / 3)
    return max(1, math.ceil(cube_root), math.ceil(n_units / most))


def percentile_interval(replicates: FloatArray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return Interval(float(low), float(high))


def widened(interval: Interval, centre: float, factor: float) -> Interval:
    """``interval`` stretched about ``centre`` (the observed difference) by ``factor``."""
    return Interval(
        centre - factor * (centre - interval.low), centre + factor * (interval.high - centre)
    )


def z_value(confidence: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def window_rate_se(bins: IntArray, blocks: int = BLOCKS) -> float | None:
    """Batch-means standard error of a run's mean rate, in counts per bin: the spread of the
    rate over ``blocks`` equal windows of ``bins`` (counts per time bin), over sqrt(blocks).
    None when there are too few bins for two windows."""
    k = min(blocks, len(bins) // 2)
    if k < 2:
        return None
    rates = np.array([chunk.mean() for chunk in np.array_split(bins.astype(np.float64), k)])
    return float(rates.std(ddof=1) / math.sqrt(k))


def poisson_rate_difference(
    base_count: int,
    base_s: float,
    new_count: int,
    new_s: float,
    confidence: float,
    *,
    base_se: float | None = None,
    new_se: float | None = None,
) -> Interval:
    """Interval of ``new_count / new_s - base_count / base_s`` (per second). ``base_se`` and
    ``new_se`` (per second) replace a run's Poisson standard error when they are larger."""
    diff = new_count / new_s - base_count / base_s
    se_base = max(math.sqrt(max(base_count, 1)) / base_s, base_se or 0.0)
    se_new = max(math.sqrt(max(new_count, 1)) / new_s, new_se or 0.0)
    se = math.sqrt(se_base**2 + se_new**2)
    half = z_value(confidence) * se
    return Interval(diff - half, diff + half)


def proportion_difference(
    base_hits: int, base_n: int, new_hits: int, new_n: int, confidence: float
) -> Interval:
    """Agresti–Caffo interval of ``new_hits / new_n - base_hits / base_n``."""
    p_base = (base_hits + 1) / (base_n + 2)
    p_new = (new_hits + 1) / (new_n + 2)
    se = math.sqrt(p_base * (1 - p_base) / (base_n + 2) + p_new * (1 - p_new) / (new_n + 2))
    diff = p_new - p_base
    half = z_value(confidence) * se
    return Interval(diff - half, diff + half)
