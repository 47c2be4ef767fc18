"""Largest-Triangle-Three-Buckets downsampling, for plotting long runs (tables use all data).

LTTB (Steinarsson, 2013) keeps the first and last points and, from each of ``target - 2``
equal buckets, the point that makes the largest triangle with the point kept before it and
the mean of the next bucket: peaks and dips survive, flat stretches thin out. Several series
that share an x axis are thinned with the indices chosen on one of them (the one a reader
watches most, e.g. p99), so their points stay aligned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def lttb_indices(x: npt.ArrayLike, y: npt.ArrayLike, target: int) -> IntArray:
    """Indices of the points to keep (sorted); all of them when ``len(x) <= target``.

    NaN values in ``y`` (gaps) count as 0 for the choice; they are still plotted as gaps.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.nan_to_num(np.asarray(y, dtype=np.float64))
    n = len(xs)
    if target >= n or target < 3:
        return np.arange(n, dtype=np.int64)
    edges = np.linspace(1, n - 1, target - 1).astype(np.int64)
    kept = [0]
    for i in range(target - 2):
        start, end = edges[i], max(edges[i + 1], edges[i] + 1)
        nxt_start, nxt_end = edges[i + 1], (edges[i + 2] if i + 2 < len(edges) else n)
        nxt_end = max(nxt_end, nxt_start + 1)
        mean_x = xs[nxt_start:nxt_end].mean()
        mean_y = ys[nxt_start:nxt_end].mean()
        ax, ay = xs[kept[-1]], ys[kept[-1]]
        bx, by = xs[start:end], ys[start:end]
        area = np.abs((ax - mean_x) * (by - ay) - (ax - bx) * (mean_y - ay))
        kept.append(int(start + np.argmax(area)))
    kept.append(n - 1)
    return np.unique(np.array(kept, dtype=np.int64))
