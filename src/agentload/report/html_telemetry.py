"""report.html telemetry panels: every series in ``telemetry.jsonl``, whatever its collector.

Generic on purpose: a series is drawn without knowing what it means. Series are grouped by
collector and then by unit (the last ``_`` word of the name: ``percent``, ``bytes``, ``ms``,
...), one plot per group, so that one y axis never mixes units; a name without a unit word
has its own group. X is seconds on the run clock, the same as the request plots. A plot has
at most ``MAX_SERIES`` series (the rest start another plot) and at most ``MAX_POINTS``
points per series, thinned with LTTB on the group's first series.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import numpy as np

from agentload.records.samples import Sample, iter_samples
from agentload.report.html_charts import MAX_POINTS, Spec, series
from agentload.report.html_downsample import lttb_indices

MAX_SERIES: Final = 8
_UNITS: Final = frozenset(
    {"percent", "bytes", "ms", "s", "seconds", "per_s", "watts", "w", "mhz", "celsius", "c",
     "count", "ratio", "total", "tokens"}
)  # fmt: skip


def unit_of(name: str) -> str:
    """``gpu0.mem_used_bytes`` → ``bytes``; ``queue_length`` → ``queue_length`` (own group)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf.endswith("_per_s"):
        return "per_s"
    word = leaf.rsplit("_", 1)[-1].lower()
    return word if word in _UNITS else leaf


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "x"


def _clean(values: Iterable[float]) -> list[float | None]:
    return [round(float(v), 4) if math.isfinite(v) else None for v in values]


def telemetry_charts(samples: Sequence[Sample]) -> list[Spec]:
    """One time plot per (collector, unit) group, in the order collectors first appear."""
    by_collector: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_collector[sample.collector].append(sample)
    charts: list[Spec] = []
    for collector, rows in by_collector.items():
        rows.sort(key=lambda s: s.at_ns)
        names = sorted({name for s in rows for name in s.values})
        groups: dict[str, list[str]] = defaultdict(list)
        for name in names:
            groups[unit_of(name)].append(name)
        xs = np.array([s.at_ns / 1e9 for s in rows], dtype=np.float64)
        for unit, members in groups.items():
            for part, start in enumerate(range(0, len(members), MAX_SERIES)):
                chunk = members[start : start + MAX_SERIES]
                charts.append(_chart(collector, unit, part, chunk, rows, xs))
    return charts


def _chart(
    collector: str, unit: str, part: int, names: list[str], rows: list[Sample], xs: np.ndarray
) -> Spec:
    columns = [np.array([s.values.get(n, math.nan) for s in rows], dtype=np.float64) for n in names]
    present = ~np.all(np.isnan(np.vstack(columns)), axis=0)  # instants with any of these
    x = xs[present]
    ys = [c[present] for c in columns]
    keep = lttb_indices(x, ys[0], MAX_POINTS)
    note = f"{len(x)} samples."
    if len(keep) < len(x):
        note += f" Downsampled (LTTB) to {len(keep)} points."
    suffix = f" ({part + 1})" if part else ""
    return {
        "id": f"telemetry-{_slug(collector)}-{_slug(unit)}{'-' + str(part) if part else ''}",
        "title": f"{collector}: {unit}{suffix}",
        "x": "time",
        "yLabel": unit,
        "yLog": False,
        "series": [series(name, i) for i, name in enumerate(names)],
        "data": [_clean(x[keep])] + [_clean(y[keep]) for y in ys],
        "note": note,
    }


def run_telemetry_charts(run_dir: Path) -> list[Spec]:
    """The run's telemetry plots; none when it has no telemetry.jsonl."""
    return telemetry_charts(list(iter_samples(run_dir)))
