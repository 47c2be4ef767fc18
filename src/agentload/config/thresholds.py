"""Thresholds in a scenario: expressions, abort rules, and the classic per-action target table.

    thresholds:
      - p99(latency) < 2s                      # a bare expression
      - expr: p99(schedule_lag) < 5ms          # or a mapping, to abort the run early
        abort_on_fail: true                    # stop sending once it is lost (k6 abortOnFail)
        delay: 10s                             # not judged before 10 s (k6 delayAbortEval)
      - trustworthy == true                    # run-level: judged at the end, never aborts
    targets:                                   # per action; expands to thresholds
      login: {rate: 1000/s, p99: 200ms, error_rate: 0.1%}

The grammar is in ``agentload.slo.grammar``. A target row expands to, for action A:
``rate: R`` → ``rate(ok{action=A}) >= 0.95·R`` (the 5% tolerance of the achieved-rate
warning: a Poisson schedule's own rate varies by ~1/sqrt(n)); ``pNN: L`` →
``pNN(latency{action=A}) < L``; ``error_rate: E`` → ``error_rate{action=A} < E``. Limits are
written back as ``2s``, ``200ms``, ``0.1%``, the way the table's own cells read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from agentload.config.fields import DurationS, RatePerS, Strict
from agentload.slo.grammar import Threshold, format_percentile, parse_threshold

RATE_TOLERANCE: Final = 0.95  # as agentload.analysis.validity.RATE_SHORTFALL_RATIO


def _check_expr(text: str) -> str:
    parse_threshold(text)  # its ValueError names the column
    return text


def _parse_ratio(value: Any) -> Any:
    """ "0.1%" or a bare fraction (0.001) → the fraction."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a ratio; write 0.5% or 0.005") from None
    return value


def _check_action(name: str) -> str:
    if not name or '"' in name:
        raise ValueError(f"{name!r} cannot name an action in a threshold")
    return name


class ThresholdSpec(Strict):
    """One threshold; a bare string in YAML is ``{expr: ...}``."""

    expr: Annotated[str, AfterValidator(_check_expr)] = Field(
        description="e.g. p99(latency) < 2s; grammar in agentload.slo.grammar"
    )
    abort_on_fail: bool = Field(False, description="stop the run as soon as it fails")
    delay: DurationS = Field(0.0, ge=0, description="with abort_on_fail: not judged before")

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        return {"expr": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _delay_needs_abort(self) -> ThresholdSpec:
        if self.delay and not self.abort_on_fail:
            raise ValueError("delay applies to abort_on_fail: true only")
        if self.abort_on_fail and self.parsed().run_level:
            raise ValueError(
                f"{self.expr!r} is judged when the run ends, so it cannot abort it; "
                "drop abort_on_fail (p99(schedule_lag) < 5ms can abort a run that falls behind)"
            )
        return self

    def parsed(self) -> Threshold:
        return parse_threshold(self.expr)


class ActionTargets(Strict):
    """The classic target row of one action: rate, latency percentiles, error rate."""

    rate: RatePerS | None = Field(None, gt=0, description="throughput to sustain, e.g. 1000/s")
    p50: DurationS | None = Field(None, gt=0)
    p90: DurationS | None = Field(None, gt=0)
    p95: DurationS | None = Field(None, gt=0)
    p99: DurationS | None = Field(None, gt=0)
    error_rate: Annotated[float | None, BeforeValidator(_parse_ratio)] = Field(None, ge=0, le=1)

    def expand(self, action: str) -> list[ThresholdSpec]:
        """The row as expressions, limits written as a user would (``2s``, ``0.1%``)."""
        where = (("action", action),)
        found: list[tuple[Threshold, str]] = []
        if self.rate is not None:
            rate = _short(self.rate * RATE_TOLERANCE)
            found.append((Threshold("rate", "ok", where, ">=", 0.0), f"{rate}/s"))
        for p, limit_s in ((50, self.p50), (90, self.p90), (95, self.p95), (99, self.p99)):
            if limit_s is not None:
                limit = f"{_short(limit_s)}s" if limit_s >= 1 else f"{_short(limit_s * 1e3)}ms"
                found.append((Threshold(format_percentile(p), "latency", where, "<", 0.0), limit))
        if self.error_rate is not None:
            limit = f"{_short(self.error_rate * 100)}%"
            found.append((Threshold("", "error_rate", where, "<", 0.0), limit))
        return [ThresholdSpec(expr=f"{_selector(t)} {t.op} {limit}") for t, limit in found]


def _selector(threshold: Threshold) -> str:
    return threshold.text.rsplit(f" {threshold.op} ", 1)[0]


def _short(value: float) -> str:
    """A limit without float noise (0.95 x 6 = 5.7, not 5.699999999999999)."""
    text = repr(float(f"{value:.12g}"))
    return text[:-2] if text.endswith(".0") else text


ActionName = Annotated[str, AfterValidator(_check_action)]
Thresholds = tuple[ThresholdSpec, ...]
Targets = dict[ActionName, ActionTargets]


def all_thresholds(thresholds: Thresholds, targets: Mapping[str, ActionTargets]) -> Thresholds:
    """The scenario's thresholds, then the target table's, by action name."""
    expanded = [spec for name in sorted(targets) for spec in targets[name].expand(name)]
    return (*thresholds, *expanded)


class SloSection(Strict):
    """Only the threshold part of a scenario, e.g. read back from a run's scenario.yaml."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    thresholds: Thresholds = ()
    targets: Targets = Field(default_factory=dict)

    def all(self) -> Thresholds:
        return all_thresholds(self.thresholds, self.targets)
