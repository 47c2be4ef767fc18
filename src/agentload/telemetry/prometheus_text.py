"""Pure parsing of the Prometheus text exposition format, and quantiles of its histograms.

``parse_exposition(text)`` gives each sample line as (metric name, labels, value) plus the
declared ``# TYPE`` of each family; lines it cannot read are skipped (a scrape is evidence,
and one odd line must not lose the rest). ``histogram_quantile`` follows Prometheus's own
function: linear interpolation inside the bucket that holds the rank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?\s*')


@dataclass(frozen=True, slots=True)
class PromSample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(slots=True)
class Exposition:
    samples: list[PromSample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # family name -> counter, gauge, ...


def parse_value(text: str) -> float | None:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None


def parse_labels(text: str) -> tuple[tuple[str, str], ...] | None:
    labels: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _LABEL.match(text, pos)
        if match is None:
            return None
        value = match.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        labels.append((match.group(1), value))
        pos = match.end()
    return tuple(labels)


def parse_exposition(text: str) -> Exposition:
    out = Exposition()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                out.types[parts[2]] = parts[3]
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        labels = parse_labels(match.group(3) or "")
        value = parse_value(match.group(4))
        if labels is None or value is None:
            continue
        out.samples.append(PromSample(match.group(1), labels, value))
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile (0..1) of cumulative ``(upper bound, count)`` buckets, or None if empty.

    Prometheus's rule: the rank ``q * total`` falls in some bucket; interpolate linearly
    between its lower and upper bound (the lowest bucket starts at 0 when its bound is
    positive). A rank in the ``+Inf`` bucket gives the largest finite bound.
    """
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if not total > 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in ordered:
        if count >= rank:
            if math.isinf(upper_bound):
                return lower_bound if len(ordered) > 1 else None
            if upper_bound <= 0:
                return upper_bound
            width = count - lower_count
            fraction = 0.0 if width <= 0 else (rank - lower_count) / width
            return lower_bound + (upper_bound - lower_bound) * fraction
        lower_bound, lower_count = upper_bound, count
    return lower_bound
