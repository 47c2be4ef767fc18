"""What ``agentload compare`` returns: per metric, the change, its interval and a verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from agentload.analysis.compare_attribution import PhaseChange

Verdict = Literal["improved", "regressed", "no change", "inconclusive"]


@dataclass(frozen=True, slots=True)
class MetricChange:
    name: str
    unit: str  # "ms", "/s" or "ratio"
    base: float | None
    new: float | None
    verdict: Verdict
    ci_low: float | None = None  # interval of new - base, in the metric's unit
    ci_high: float | None = None
    reason: str = ""  # why inconclusive

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def relative(self) -> float | None:
        delta = self.delta
        return None if delta is None or not self.base else delta / abs(self.base)


@dataclass(frozen=True, slots=True)
class Comparison:
    base_name: str
    new_name: str
    confidence: float  # of each interval, after the Bonferroni correction
    metrics: tuple[MetricChange, ...]
    attribution: Mapping[str, tuple[PhaseChange, ...]] = field(default_factory=dict)
    base_runs: int = 1  # replicate runs per side; with several, values are means over runs
    new_runs: int = 1

    @property
    def regressions(self) -> tuple[MetricChange, ...]:
        return tuple(m for m in self.metrics if m.verdict == "regressed")
