"""Which telemetry series rise with latency: correlation and lead/lag on the run's windows.

Each series of ``telemetry.jsonl`` is averaged over the same windows as the latency (mean of
its samples whose time falls in the window). For a shift of ``k`` windows (``|k| <= 3``) the
Pearson correlation of ``series[t]`` with ``latency[t + k]`` is computed over the windows
where both exist (at least ``MIN_PAIRS``); the best shift is the one with the highest
correlation (the smallest ``|k|`` on a tie). ``lead_s = k × window_s``: positive means the
series moved first (a cause rises before its effect), negative that it followed.

``slope_per_s`` is the least-squares slope of a series against time: a queue that grows
through the run has a clearly positive one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from agentload.analysis.attribution import NS_PER_S, WindowSeries
from agentload.records.samples import Sample, series

FloatArray = npt.NDArray[np.float64]
MAX_SHIFT: Final = 3
MIN_PAIRS: Final = 5


@dataclass(frozen=True, slots=True)
class Correlation:
    series: str
    r: float  # Pearson correlation with window mean latency at the best shift
    lead_s: float  # > 0: the series moved before latency
    slope_per_s: float | None  # growth of the series through the run
    mean: float

    def to_dict(self) -> dict[str, float | str | None]:
        return {
            "series": self.series,
            "r": round(self.r, 3),
            "lead_s": self.lead_s,
            "slope_per_s": None if self.slope_per_s is None else round(self.slope_per_s, 6),
            "mean": round(self.mean, 6),
        }


def resample(
    times_ns: Sequence[int], values: Sequence[float], start_s: float, window_s: float, n: int
) -> FloatArray:
    """Mean of the values in each of ``n`` windows from ``start_s``; NaN where there is none."""
    out = np.full(n, np.nan)
    if n == 0 or not times_ns:
        return out
    t = np.asarray(times_ns, dtype=np.float64) / NS_PER_S
    v = np.asarray(values, dtype=np.float64)
    index = np.floor((t - start_s) / window_s).astype(np.int64)
    keep = (index >= 0) & (index < n) & np.isfinite(v)
    sums = np.bincount(index[keep], weights=v[keep], minlength=n)
    counts = np.bincount(index[keep], minlength=n)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def pearson(x: FloatArray, y: FloatArray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < MIN_PAIRS:
        return None
    a, b = x[ok], y[ok]
    sa, sb = float(a.std()), float(b.std())
    if sa <= 1e-12 * max(1.0, abs(float(a.mean()))) or sb <= 0:
        return None
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def best_shift(
    x: FloatArray, y: FloatArray, max_shift: int = MAX_SHIFT
) -> tuple[float, int] | None:
    """(r, k) maximising corr(x[t], y[t + k]); None when no shift has enough pairs."""
    best: tuple[float, int] | None = None
    for k in sorted(range(-max_shift, max_shift + 1), key=abs):
        r = pearson(x[: len(x) - k], y[k:]) if k >= 0 else pearson(x[-k:], y[: len(y) + k])
        if r is not None and (best is None or r > best[0] + 1e-9):
            best = (r, k)
    return best


def slope_per_s(times_s: FloatArray, values: FloatArray) -> float | None:
    ok = np.isfinite(times_s) & np.isfinite(values)
    if ok.sum() < 3 or float(np.ptp(times_s[ok])) <= 0:
        return None
    t, v = times_s[ok], values[ok]
    return float(np.polyfit(t, v, 1)[0])


def latency_array(windows: WindowSeries) -> FloatArray:
    return np.array(
        [math.nan if v is None else v for v in windows.latency_mean_ms], dtype=np.float64
    )


def correlations(samples: Sequence[Sample], windows: WindowSeries) -> list[Correlation]:
    """Every telemetry series against window mean latency, highest correlation first."""
    n = len(windows.start_s)
    if n == 0 or not samples:
        return []
    latency = latency_array(windows)
    start = windows.start_s[0]
    names = sorted({name for s in samples for name in s.values})
    out = []
    listed = list(samples)
    for name in names:
        times_ns, values = series(listed, name)
        x = resample(times_ns, values, start, windows.window_s, n)
        found = best_shift(x, latency)
        if found is None:
            continue
        r, k = found
        t = np.asarray(times_ns, dtype=np.float64) / NS_PER_S
        out.append(
            Correlation(
                series=name,
                r=r,
                lead_s=k * windows.window_s,
                slope_per_s=slope_per_s(t, np.asarray(values, dtype=np.float64)),
                mean=float(np.nanmean(x)),
            )
        )
    out.sort(key=lambda c: (-c.r, c.series))
    return out
