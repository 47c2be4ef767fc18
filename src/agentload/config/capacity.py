"""The ``capacity:`` section of a scenario: what ``agentload capacity`` varies, and how.

    capacity:
      vary: rate            # rate (open load), users (closed), sessions_rate (sessions)
      start: 1/s            # first probe; users: a whole number
      max: 1000/s           # the search never offers more than this
      resolution: 10%       # bisection stops when upper / lower - 1 is at most this
      step_duration: 10s    # measured part of each step (default: from the budget)
      warmup: 2s            # run before each step's measurement, excluded from its stats
      repeats: 3            # runs at one value at most, while its verdict is not confident
      confidence: 95%       # a verdict is confident when its test reaches this level
      budget: 5m            # the whole search; --budget overrides it
      first_estimate: none  # adaptive: one short adaptive run first, the search starts there
      estimate_duration: 8s # that run's length (default: from the range and step length)

``first_estimate: adaptive`` (vary users or rate) runs the AIMD controller of
``load.model: adaptive`` once, holding the scenario's first latency threshold, and starts the
search at the value it settled on instead of probing up from ``start``; the normal, judged
steps then confirm it (see agentload.capacity_estimate and docs/capacity.md).

The scenario's ``load`` gives everything else (arrival process, think time, turns); the
search replaces the varied field and the duration at each step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from agentload.config.fields import DurationS, Strict
from agentload.slo.grammar import parse_threshold
from agentload.units import parse_rate_per_s

Vary = Literal["rate", "users", "sessions_rate"]

# The load model each varied quantity belongs to.
LOAD_MODEL_OF: dict[str, str] = {"rate": "open", "users": "closed", "sessions_rate": "sessions"}


def _ratio(value: Any) -> Any:
    """ "10%" or a bare fraction (0.1) → the fraction."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a ratio; write 10% or 0.1") from None
    return value


def _amount(value: Any) -> Any:
    """A rate ("20/s") or a bare number (users)."""
    if isinstance(value, str) and "/" in value:
        return parse_rate_per_s(value)
    return value


Ratio = Annotated[float, BeforeValidator(_ratio)]
Amount = Annotated[float, BeforeValidator(_amount)]


class CapacityConfig(Strict):
    vary: Vary = Field("rate", description="rate, users or sessions_rate")
    start: Amount = Field(1.0, gt=0, le=10_000_000, description="first value probed")
    max: Amount = Field(1000.0, gt=0, le=10_000_000, description="highest value offered")
    resolution: Ratio = Field(0.1, gt=0, lt=1, description="relative width to stop at")
    step_duration: DurationS | None = Field(None, gt=0, description="measured seconds per step")
    warmup: DurationS | None = Field(None, ge=0, description="seconds before each measurement")
    repeats: int = Field(3, ge=1, le=10, description="runs at one value, at most")
    confidence: Ratio = Field(0.95, ge=0.5, lt=1, description="level of a confident verdict")
    budget: DurationS = Field(300.0, gt=0, description="wall time of the whole search")
    first_estimate: Literal["none", "adaptive"] = Field(
        "none", description="adaptive: start the search where an adaptive run settles"
    )
    estimate_duration: DurationS | None = Field(
        None, gt=0, le=3600, description="length of the adaptive run (default: sized)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> CapacityConfig:
        if self.max <= self.start:
            raise ValueError(f"max ({self.max:g}) must be above start ({self.start:g})")
        if self.first_estimate == "adaptive" and self.vary == "sessions_rate":
            raise ValueError(
                "first_estimate: adaptive works with vary: users or rate, not sessions_rate "
                "(an adaptive run varies users); drop it or vary users"
            )
        if self.estimate_duration is not None and self.first_estimate != "adaptive":
            raise ValueError("estimate_duration applies to first_estimate: adaptive only")
        if self.vary == "users":
            for name in ("start", "max"):
                value = getattr(self, name)
                if value != int(value):
                    raise ValueError(f"{name}: users is a whole number, got {value:g}")
        return self


def capacity_load_problem(capacity: CapacityConfig, load: object) -> str | None:
    """Why the scenario's ``load`` cannot be varied as asked, or None when it can."""
    load_model = str(getattr(load, "model", ""))
    wanted = LOAD_MODEL_OF[capacity.vary]
    if load_model != wanted:
        return (
            f"capacity.vary: {capacity.vary} needs load.model: {wanted} "
            f"(the scenario's load is {load_model})"
        )
    if capacity.vary != "users" and not isinstance(getattr(load, "arrival", None), str):
        return f"capacity.vary: {capacity.vary} needs a named arrival (constant, poisson, gamma)"
    if capacity.vary == "sessions_rate" and getattr(load, "users", None) is not None:
        return "capacity.vary: sessions_rate needs sessions arriving at a rate, not load.users"
    return None


def check_adaptive_target(text: str) -> str:
    """An adaptive load's target: a duration percentile or average held below a limit."""
    threshold = parse_threshold(text)  # its ValueError names the column
    if threshold.kind != "duration" or threshold.aggregate in ("min", "max"):
        raise ValueError(f"{text!r}: the target is a latency percentile, e.g. p95(latency) < 1s")
    if threshold.op not in ("<", "<="):
        raise ValueError(f"{text!r}: the target holds a latency below a limit: use < or <=")
    return text
