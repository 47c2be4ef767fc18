"""A parsed threshold expression: what it selects, how it compares, and its canonical text.

The grammar and the units are in ``agentload.slo.grammar``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from agentload.records.record import ErrorKind

DURATION_METRICS: Final = ("latency", "service", "ttft", "ttfb", "itl", "tpot", "schedule_lag")
# Judged from the run as a whole when it ends (telemetry samples, the summary), not per record.
GENERATOR_METRICS: Final = ("generator_cpu", "generator_loop_lag")
FLAGS: Final = ("trustworthy",)
RUN_LEVEL_KINDS: Final = frozenset({"cpu", "loop_lag", "flag"})
RATIOS: Final = ("error_rate", "dropped_rate", "session_success_rate")
OUTCOMES: Final = ("requests", "ok", "error", "dropped")
FILTER_KEYS: Final = ("action", "turn", "persona", "error_kind")
# error_kind values: an ErrorKind, "unknown" (an error without a kind), or a group.
ERROR_KIND_GROUPS: Final = {
    "timeout": tuple(k.value for k in ErrorKind if k.value.endswith("_timeout")),
}
ERROR_KINDS: Final = (*(k.value for k in ErrorKind), "unknown", *ERROR_KIND_GROUPS)
OPERATORS: Final = ("<=", ">=", "<", ">")
WORD: Final = re.compile(r"[A-Za-z0-9_.:\-]+")


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed expression. ``kind``: duration, ratio, rate, count, cpu, loop_lag or flag
    (agentload.slo.grammar)."""

    aggregate: str  # "p99.9", "avg", "min", "max", "rate", "count", or "" for a ratio or flag
    metric: str  # a duration or generator metric, a ratio name, an outcome, or a flag
    filters: tuple[tuple[str, str], ...]  # sorted by key
    op: str  # one of OPERATORS; "==" for a flag
    limit: float  # ms, fraction, per second, count, percent of a core, or 1/0 for true/false
    source: str = field(default="", compare=False)  # as the user wrote it, for messages

    @property
    def kind(self) -> str:
        if self.metric in DURATION_METRICS:
            return "duration"
        if self.metric in RATIOS:
            return "ratio"
        if self.metric == "generator_cpu":
            return "cpu"
        if self.metric == "generator_loop_lag":
            return "loop_lag"
        if self.metric in FLAGS:
            return "flag"
        return self.aggregate  # "rate" or "count"

    @property
    def run_level(self) -> bool:
        """Judged once the run has ended (telemetry, the summary), never from records alone."""
        return self.kind in RUN_LEVEL_KINDS

    @property
    def percentile(self) -> float | None:
        return float(self.aggregate[1:]) if self.aggregate.startswith("p") else None

    def filter(self, key: str) -> str | None:
        return next((v for k, v in self.filters if k == key), None)

    def passes(self, observed: float) -> bool:
        if self.op == "==":
            return observed == self.limit
        if self.op == "<":
            return observed < self.limit
        if self.op == "<=":
            return observed <= self.limit
        if self.op == ">":
            return observed > self.limit
        return observed >= self.limit

    @property
    def text(self) -> str:
        """Canonical form: limits in ms, fractions, per second or counts; exact round trip."""
        if self.kind == "flag":
            return f"{self.metric} == {'true' if self.limit else 'false'}"
        inner = self.metric
        if self.filters:
            inner += "{" + ",".join(f"{k}={_quote(v)}" for k, v in self.filters) + "}"
        selector = inner if self.kind == "ratio" else f"{self.aggregate}({inner})"
        unit = {"duration": "ms", "loop_lag": "ms", "rate": "/s", "cpu": "%"}.get(self.kind, "")
        limit = str(int(self.limit)) if self.kind == "count" else _number(self.limit)
        return f"{selector} {self.op} {limit}{unit}"

    def __str__(self) -> str:
        return self.source or self.text


def error_kinds(value: str) -> tuple[str, ...]:
    """The error kinds an ``error_kind`` filter value stands for (a group: several)."""
    return ERROR_KIND_GROUPS.get(value, (value,))


def format_percentile(p: float) -> str:
    return f"p{p:.4f}".rstrip("0").rstrip(".")


def _number(value: float) -> str:
    text = repr(value)  # the shortest text that reads back as the same float
    return text[:-2] if text.endswith(".0") else text


def _quote(value: str) -> str:
    return value if WORD.fullmatch(value) else f'"{value}"'
