"""The ``load`` section: open (arrival schedules), closed (users), sessions, adaptive.

Which model a mapping is follows its ``model`` key (open when left out).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from agentload.config.capacity import (
    check_adaptive_target,
)
from agentload.config.fields import DurationS, RatePerS, Strict
from agentload.config.sessions import (
    DEFAULT_THINK,
    DEFAULT_TURNS,
    ContextCheck,
    Distribution,
)
from agentload.traffic import arrivals_from_spec, natural_bounds


class ThinkTime(Strict):
    """Pause of a closed-model user between two requests: fixed, or uniform in [min, max]."""

    min: DurationS = Field(0.0, ge=0)
    max: DurationS = Field(0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _fixed(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"min": data, "max": data}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ThinkTime:
        if self.max < self.min:
            raise ValueError("max must be at least min")
        return self


_NAMED_ARRIVALS = ("constant", "poisson", "gamma")


def _arrival_name(value: Any) -> Any:
    # One clear message instead of one per branch of the union.
    if isinstance(value, dict) or value in _NAMED_ARRIVALS:
        return value
    raise ValueError(
        "input should be 'constant', 'poisson' or 'gamma' (with rate), or a mapping with a "
        "kind: cox, profile, ramp, step, spike, sine, hold or trace"
    )


def _check_arrival(arrival: Any, rate: float | None, burstiness: float, example: str) -> bool:
    """A named arrival needs a rate beside it; a mapping carries its own. True when the arrival
    ends by itself (a trace, a finite profile), so no duration or count is needed."""
    if isinstance(arrival, str):
        if rate is None:
            raise ValueError(f"a {arrival} arrival needs a rate, e.g. rate: {example}")
        if burstiness != 1.0 and arrival != "gamma":
            raise ValueError("burstiness applies to arrival: gamma only")
        return False
    if rate is not None:
        raise ValueError("give the rate inside arrival: {kind: ..., ...}, not beside it")
    try:
        process = arrivals_from_spec(arrival)
    except ValueError as exc:
        raise ValueError(f"arrival: {exc}") from None
    return natural_bounds(process) != (None, None)


class OpenLoad(Strict):
    """Open model: requests arrive on a schedule, whatever the target answers.

    ``arrival`` is a name (constant, poisson, gamma) used with ``rate``, or a mapping with a
    ``kind`` for the other processes (cox, profile, ramp, step, spike, sine, hold, trace):
    see ``agentload.traffic.spec``. A profile or a trace bounds the run by itself.
    """

    model: Literal["open"] = "open"
    arrival: Annotated[
        Literal["constant", "poisson", "gamma"] | dict[str, Any], BeforeValidator(_arrival_name)
    ] = "poisson"
    rate: RatePerS | None = Field(None, gt=0, description="mean arrivals per second, e.g. 20/s")
    burstiness: float = Field(1.0, gt=0, le=1000, description="gamma shape: <1 burstier")
    duration: DurationS | None = Field(None, gt=0)
    requests: int | None = Field(None, gt=0, le=100_000_000)
    max_in_flight: int = Field(1000, gt=0, le=1_000_000)
    grace: DurationS | None = Field(
        None,
        ge=0,
        description="wait for in-flight requests at the end (default: timeouts.total + 1s)",
    )

    @model_validator(mode="after")
    def _bounded(self) -> OpenLoad:
        self_bounded = _check_arrival(self.arrival, self.rate, self.burstiness, "20/s")
        if self.duration is None and self.requests is None and not self_bounded:
            raise ValueError("give a duration (e.g. 30s) or a number of requests, or both")
        return self


class ClosedLoad(Strict):
    """Closed model: N users, each sends, waits for the answer, thinks, and sends again."""

    model: Literal["closed"]
    users: int = Field(gt=0, le=100_000)
    think_time: ThinkTime = ThinkTime()
    duration: DurationS | None = Field(None, gt=0)
    requests: int | None = Field(None, gt=0, le=100_000_000)
    grace: DurationS | None = Field(
        None,
        ge=0,
        description="wait for in-flight requests at the end (default: timeouts.total + 1s)",
    )

    @model_validator(mode="after")
    def _bounded(self) -> ClosedLoad:
        if self.duration is None and self.requests is None:
            raise ValueError("give a duration (e.g. 30s) or a number of requests, or both")
        return self


class AdaptiveLoad(Strict):
    """Adaptive pacing: closed-model users whose number an AIMD controller adjusts, every
    ``interval``, to hold ``target`` (a latency percentile); see agentload.engine.adaptive."""

    model: Literal["adaptive"]
    target: Annotated[str, AfterValidator(check_adaptive_target)] = Field(
        description="e.g. p95(latency) < 1s"
    )
    min_users: int = Field(1, gt=0, le=100_000)
    max_users: int = Field(gt=0, le=100_000)
    start_users: int | None = Field(None, gt=0, le=100_000, description="default: min_users")
    interval: DurationS = Field(1.0, gt=0, le=600, description="between two adjustments")
    think_time: ThinkTime = ThinkTime()
    duration: DurationS = Field(gt=0)
    grace: DurationS | None = Field(
        None,
        ge=0,
        description="wait for in-flight requests at the end (default: timeouts.total + 1s)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> AdaptiveLoad:
        start = self.start_users if self.start_users is not None else self.min_users
        if not self.min_users <= start <= self.max_users:
            raise ValueError("need min_users <= start_users <= max_users")
        return self


class TurnCount(Strict):
    """Turns per session: lognormal around ``median`` (``sigma`` 0: always the median),
    at least ``min`` and at most ``max``. A bare number means exactly that many."""

    median: float = Field(4.0, ge=1, le=10_000)
    sigma: float = Field(0.5, ge=0, le=3)
    min: int = Field(1, ge=1)
    max: int = Field(50, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _fixed(cls, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool):
            return {"median": data, "sigma": 0, "min": data, "max": data}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> TurnCount:
        if self.max < self.min:
            raise ValueError("max must be at least min")
        return self


class SessionLoad(Strict):
    """Sessions: they arrive by any open arrival process (``arrival``/``rate`` as for the open
    model), or ``users`` virtual users each run one session after another (closed). Inside a
    session each turn waits for the previous answer plus a think time, and carries the
    conversation; a session lasts a drawn number of ``turns`` or a drawn ``session_duration``."""

    model: Literal["sessions"]
    arrival: Annotated[
        Literal["constant", "poisson", "gamma"] | dict[str, Any], BeforeValidator(_arrival_name)
    ] = "poisson"
    rate: RatePerS | None = Field(None, gt=0, description="sessions started per second")
    burstiness: float = Field(1.0, gt=0, le=1000, description="gamma shape: <1 burstier")
    users: int | None = Field(
        None, gt=0, le=100_000, description="closed: N users, each looping sessions"
    )
    duration: DurationS | None = Field(None, gt=0, description="no turn starts after this")
    sessions: int | None = Field(None, gt=0, le=10_000_000)
    turns: Distribution = DEFAULT_TURNS
    session_duration: Distribution | None = Field(
        None, description="instead of turns: a session ends once this much time has passed"
    )
    think_time: Distribution = DEFAULT_THINK
    context_check: ContextCheck | None = None
    max_in_flight: int = Field(1000, gt=0, le=1_000_000, description="concurrent sessions")
    grace: DurationS | None = Field(
        None,
        ge=0,
        description="wait for in-flight requests at the end (default: timeouts.total + 1s)",
    )

    @model_validator(mode="after")
    def _bounded(self) -> SessionLoad:
        self_bounded = False
        if self.users is not None:
            if self.rate is not None or self.arrival != "poisson" or self.burstiness != 1.0:
                raise ValueError("users runs sessions back to back: no arrival or rate with it")
        else:
            self_bounded = _check_arrival(self.arrival, self.rate, self.burstiness, "2/s")
        if self.duration is None and self.sessions is None and not self_bounded:
            raise ValueError("give a duration (e.g. 60s) or a number of sessions, or both")
        return self


def _load_model(value: Any) -> str:
    # "model" may be left out: the open model is the default.
    if isinstance(value, dict):
        return str(value.get("model", "open"))
    return str(getattr(value, "model", "open"))


Load = Annotated[
    Annotated[OpenLoad, Tag("open")]
    | Annotated[ClosedLoad, Tag("closed")]
    | Annotated[SessionLoad, Tag("sessions")]
    | Annotated[AdaptiveLoad, Tag("adaptive")],
    Discriminator(_load_model),
]
