"""``capacity.html``: the capacity curve of a capacity search, with the knee and the capacity
marked, from ``<capacity dir>/capacity.json`` alone.

``read_capacity`` is the one place that knows the file's field names (docs/capacity.md);
it accepts ``completed_per_s`` or ``achieved_rate_per_s`` for a step's throughput and a knee
given as ``{"value": ...}`` or a bare number. Everything else renders a ``CapacityResult``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agentload.errors import RunDirError
from agentload.report.html_charts import Spec, series
from agentload.report.html_page import card, chart_slots, esc, page, table
from agentload.units import format_duration_ms

CAPACITY_FILE: Final = "capacity.json"
CAPACITY_HTML: Final = "capacity.html"


@dataclass(frozen=True, slots=True)
class CapacityStep:
    value: float  # the offered load: rate, users or session rate (``CapacityResult.unit``)
    achieved_rate_per_s: float | None
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    verdict: str


@dataclass(frozen=True, slots=True)
class CapacityResult:
    name: str
    unit: str
    steps: tuple[CapacityStep, ...]  # in the order run; several may share a value
    capacity: float | None  # highest value that held every threshold
    lower: float | None  # the bracket the search narrowed the capacity to
    upper: float | None
    knee: float | None  # where p99 starts to climb faster than load
    warnings: tuple[str, ...] = ()  # e.g. a deciding percentile on too few samples


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_capacity(doc: Mapping[str, Any]) -> CapacityResult:
    steps = []
    for raw in doc.get("steps") or ():
        if not isinstance(raw, Mapping) or _num(raw.get("value")) is None:
            continue
        achieved = raw.get("achieved_rate_per_s", raw.get("completed_per_s"))
        steps.append(
            CapacityStep(
                value=float(raw["value"]),
                achieved_rate_per_s=_num(achieved),
                p50_ms=_num(raw.get("p50_ms")),
                p99_ms=_num(raw.get("p99_ms")),
                error_rate=_num(raw.get("error_rate")),
                verdict=str(raw.get("verdict", "")),
            )
        )
    knee = doc.get("knee")
    return CapacityResult(
        name=str(doc.get("name", "capacity")),
        unit=str(doc.get("unit", "")),
        steps=tuple(steps),
        capacity=_num(doc.get("capacity")),
        lower=_num(doc.get("lower")),
        upper=_num(doc.get("upper")),
        knee=_num(knee.get("value")) if isinstance(knee, Mapping) else _num(knee),
        warnings=tuple(str(w) for w in doc.get("warnings") or () if isinstance(w, str)),
    )


def read_capacity(capacity_dir: Path) -> CapacityResult:
    path = capacity_dir / CAPACITY_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(
            f"{path}: missing; give a directory written by agentload capacity"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable: {exc}") from None
    if not isinstance(doc, Mapping):
        raise RunDirError(f"{path}: expected a JSON object")
    return parse_capacity(doc)


def _points(result: CapacityResult) -> list[CapacityStep]:
    """One point per value (the last step run there: it pooled the earlier ones)."""
    latest: dict[float, CapacityStep] = {}
    for step in result.steps:
        latest[step.value] = step
    return [latest[v] for v in sorted(latest)]


def _interpolate(xs: Sequence[float], ys: Sequence[float | None], x: float) -> float | None:
    known = [(a, b) for a, b in zip(xs, ys, strict=True) if b is not None]
    for (x0, y0), (x1, y1) in itertools.pairwise(known):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return next((b for a, b in known if a == x), None)


def capacity_charts(result: CapacityResult) -> list[Spec]:
    points = _points(result)
    marks = {m for m in (result.knee, result.capacity) if m is not None}
    xs = sorted({p.value for p in points} | marks)
    known = [p.value for p in points]

    def line(values: list[float | None]) -> list[float | None]:
        # A marker between two steps gets the value on the straight line between them, so
        # the curves stay unbroken where its x was inserted.
        return [_interpolate(known, values, x) for x in xs]

    p50 = line([p.p50_ms for p in points])
    p99 = line([p.p99_ms for p in points])
    rate = line([p.achieved_rate_per_s for p in points])

    def marker(at: float | None) -> list[float | None]:
        y = None if at is None else _interpolate(known, [p.p99_ms for p in points], at)
        return [y if x == at else None for x in xs]

    label = f"offered load ({result.unit})" if result.unit else "offered load"
    latency: Spec = {
        "id": "capacity-latency",
        "title": "Latency and throughput against offered load",
        "x": "value",
        "xLabel": label,
        "yLabel": "ms",
        "yLog": False,
        "series": [
            series("p50", 0),
            series("p99", 2),
            series("achieved /s", 3, axis="y2", dash=True),
            series("knee (p99)", 4, points=True),
            series("capacity (p99)", 1, points=True),
        ],
        "data": [xs, p50, p99, rate, marker(result.knee), marker(result.capacity)],
        "note": "One point per offered value (the last step there). Markers: the knee of "
        "p99 latency and the capacity (the highest value that held every threshold).",
    }
    errors: Spec = {
        "id": "capacity-errors",
        "title": "Error rate against offered load",
        "x": "value",
        "xLabel": label,
        "yLabel": "% errors",
        "yLog": False,
        "series": [series("error rate", 2)],
        "data": [
            known,
            [None if p.error_rate is None else 100 * p.error_rate for p in points],
        ],
        "note": "",
    }
    return [latency, errors]


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.4g}{(' ' + unit) if unit else ''}"


def render_capacity_html(capacity_dir: Path) -> str:
    result = read_capacity(capacity_dir)
    charts = capacity_charts(result) if result.steps else []
    bracket = f"between {_fmt(result.lower)} and {_fmt(result.upper)}"
    cards = [
        card("capacity", _fmt(result.capacity, result.unit), bracket, "ok"),
        card("knee", _fmt(result.knee, result.unit), "p99 starts to climb faster than load"),
        card("steps", f"{len(result.steps)}", f"{len(_points(result))} distinct values"),
    ]
    rows = [
        [
            f"{i + 1}",
            _fmt(s.value),
            _fmt(s.achieved_rate_per_s),
            "-" if s.p50_ms is None else format_duration_ms(s.p50_ms),
            "-" if s.p99_ms is None else format_duration_ms(s.p99_ms),
            "-" if s.error_rate is None else f"{s.error_rate:.2%}",
            s.verdict
            + (" · knee" if s.value == result.knee else "")
            + (" · capacity" if s.value == result.capacity else ""),
        ]
        for i, s in enumerate(result.steps)
    ]
    headers = ("#", "value", "achieved /s", "p50", "p99", "errors", "verdict")
    body = (
        f'<section class="cards">{"".join(cards)}</section>'
        + "".join(f'<ul class="warnings"><li>{esc(w)}</li></ul>' for w in result.warnings)
        + f'<section class="charts">{chart_slots(charts, wide=("capacity-latency",))}</section>'
        f"<h2>Steps, in the order run</h2>{table(headers, rows)}"
    )
    subtitle = f"capacity search · {len(result.steps)} steps · unit {result.unit or '-'}"
    return page(f"agentload capacity: {result.name}", subtitle, body, charts)


def write_capacity_html(capacity_dir: Path, out: Path | None = None) -> Path:
    target = out if out is not None else capacity_dir / CAPACITY_HTML
    target.write_text(render_capacity_html(capacity_dir), encoding="utf-8")
    return target
