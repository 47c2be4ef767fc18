"""The scenario: typed, frozen, and strict (unknown keys are errors, not silently ignored).

Durations accept "250ms", "30s", "2m" or seconds; rates accept "20/s", "1200/m" or per
second. Models hold configuration only; no runtime state lives here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from yarl import URL

from agentload.config.capacity import (
    CapacityConfig,
    capacity_load_problem,
    check_adaptive_target,
)
from agentload.config.personas import check_personas
from agentload.config.protocols import A2ARequest, ResponsesRequest
from agentload.config.retry import RetryPolicy
from agentload.config.sessions import (
    DEFAULT_THINK,
    DEFAULT_TURNS,
    ClassifyRule,
    ContextCheck,
    Distribution,
    PersonaSpec,
    check_dataset,
    inherit_protocol,
)
from agentload.config.telemetry import TelemetryConfig
from agentload.config.thresholds import Targets, Thresholds
from agentload.traffic import arrivals_from_spec, natural_bounds
from agentload.units import parse_duration_s, parse_rate_per_s

DurationS = Annotated[float, BeforeValidator(parse_duration_s)]
RatePerS = Annotated[float, BeforeValidator(parse_rate_per_s)]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timeouts(Strict):
    connect: DurationS = Field(5.0, gt=0, description="TCP (and TLS) connect")
    first_byte: DurationS = Field(60.0, gt=0, description="from send to the first response byte")
    total: DurationS = Field(300.0, gt=0, description="from send to the end of the response")


def _check_base_url(value: str) -> str:
    try:
        url = URL(value)
        port = url.port  # raises for a port out of range
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{value!r}: write it as http(s)://host[:port][/prefix]")
    if url.user is not None or url.password is not None:
        raise ValueError(
            "credentials in the URL would be written to the run directory; "
            "send them in target.headers with ${ENV_VAR}"
        )
    if url.query_string or url.fragment:
        raise ValueError("no query string or fragment in base_url; put them in request.path")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return value


class Target(Strict):
    base_url: Annotated[str, AfterValidator(_check_base_url)] = Field(
        description="e.g. http://127.0.0.1:8000"
    )
    protocol: Literal[
        "openai-chat", "http", "agent-session", "agent-task", "openai-responses", "a2a"
    ] = "openai-chat"
    headers: dict[str, str] = Field(
        default_factory=dict, description="${ENV_VAR} is expanded when the scenario is loaded"
    )
    timeouts: Timeouts = Timeouts()
    max_response_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="responses larger than this fail as body_too_large"
    )
    transport: Literal["auto", "fast", "aiohttp"] = Field(
        "auto",
        description="fast: agentload's HTTP/1.1 client (least CPU per request); aiohttp: follows"
        " redirects and decompresses; auto: fast unless the headers ask for compression",
    )
    client_phases: bool = Field(
        False,
        description="time DNS, connect, pool wait and first byte on each record (client.* "
        "phases; uses the aiohttp transport under auto)",
    )
    affinity_header: str | None = Field(
        None, pattern=r"^[A-Za-z0-9-]{1,64}$", description="sends the session id, for routers"
    )
    classify: tuple[ClassifyRule, ...] = Field(
        (), description="which responses are model_oom / context_lost (before the defaults)"
    )
    retry: RetryPolicy | None = Field(None, description="off unless given; see config.retry")
    unreachable_abort_after: DurationS | None = Field(
        None, gt=0, description="stop the run when only connect errors came for this long"
    )
    insecure: bool = Field(False, description="https without verifying the certificate")

    @model_validator(mode="after")
    def _phases_need_aiohttp(self) -> Target:
        if self.client_phases and self.transport == "fast":
            raise ValueError(
                "client_phases are timed by the aiohttp transport: set transport: auto or aiohttp"
            )
        return self


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
        if isinstance(self.arrival, str):
            if self.rate is None:
                raise ValueError(f"a {self.arrival} arrival needs a rate, e.g. rate: 20/s")
            if self.burstiness != 1.0 and self.arrival != "gamma":
                raise ValueError("burstiness applies to arrival: gamma only")
            self_bounded = False
        else:
            if self.rate is not None:
                raise ValueError("give the rate inside arrival: {kind: ..., ...}, not beside it")
            try:
                process = arrivals_from_spec(self.arrival)
            except ValueError as exc:
                raise ValueError(f"arrival: {exc}") from None
            self_bounded = natural_bounds(process) != (None, None)
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
        elif isinstance(self.arrival, str):
            if self.rate is None:
                raise ValueError(f"a {self.arrival} arrival needs a rate, e.g. rate: 2/s")
            if self.burstiness != 1.0 and self.arrival != "gamma":
                raise ValueError("burstiness applies to arrival: gamma only")
        else:
            if self.rate is not None:
                raise ValueError("give the rate inside arrival: {kind: ..., ...}, not beside it")
            try:
                process = arrivals_from_spec(self.arrival)
            except ValueError as exc:
                raise ValueError(f"arrival: {exc}") from None
            self_bounded = natural_bounds(process) != (None, None)
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


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatRequest(Strict):
    """An OpenAI-compatible chat completion; give ``messages`` or ``prompt_tokens``."""

    protocol: Literal["openai-chat"] = "openai-chat"
    path: str = Field("/v1/chat/completions", pattern=r"^/")
    model: str = "agentload-sim"
    messages: tuple[Message, ...] | None = Field(None, min_length=1)
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000, description="synthetic prompt")
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    stream: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)
    input_tokens: Distribution | None = Field(
        None, description="synthetic prompt whose length is drawn per request"
    )
    output_tokens: Distribution | None = Field(
        None, description="max_tokens drawn per request (instead of a fixed max_tokens)"
    )
    dataset: Annotated[str | None, AfterValidator(check_dataset)] = Field(
        None, min_length=1, description="JSONL conversations (ShareGPT-style); one per session"
    )
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> ChatRequest:
        given = [self.messages, self.prompt_tokens, self.input_tokens, self.dataset]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of messages, prompt_tokens, input_tokens or dataset")
        return self


def _check_json(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the body must be plain JSON ({exc}); quote dates and times") from None
    return value


class HttpRequest(Strict):
    """Any HTTP call; ``{{seq}}`` in the path or body is replaced by the request number."""

    protocol: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: str = Field("/", pattern=r"^/")
    body: Annotated[Any, AfterValidator(_check_json)] = None
    ok_status: tuple[int, ...] = Field((200, 201, 202, 204), min_length=1)
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )


class AgentSessionRequest(Strict):
    """A turn of an agent's session API (the reference agent's ``/v1/sessions``): the
    session is created on the first turn, each turn posts one user message, and the answer
    streams as step events (``token``, ``tool.call``, ``done`` with usage and phases)."""

    protocol: Literal["agent-session"] = "agent-session"
    path: str = Field("/v1/sessions", pattern=r"^/", description="the session collection")
    content: str | None = Field(None, min_length=1, description="the user's message each turn")
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000, description="synthetic message")
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    stream: bool = True
    tools: tuple[str, ...] | None = None
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> AgentSessionRequest:
        if (self.content is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of content or prompt_tokens")
        return self


class Polling(Strict):
    """How a client waits for an async job: first status request after ``initial``, then
    intervals growing by ``multiplier`` up to ``max_interval``, each ±``jitter``; a
    ``Retry-After`` from the server wins; no result within ``max_wait`` is job_timeout."""

    initial: DurationS = Field(0.05, ge=0)
    multiplier: float = Field(2.0, ge=1, le=10)
    max_interval: DurationS = Field(2.0, gt=0)
    jitter: float = Field(0.2, ge=0, lt=1)
    max_wait: DurationS = Field(30.0, gt=0)


class AgentTaskRequest(Strict):
    """A job on an agent's async task API (the reference agent's ``/v1/tasks``): submit,
    then poll the ``Location`` until the job succeeds, fails or the wait runs out."""

    protocol: Literal["agent-task"] = "agent-task"
    path: str = Field("/v1/tasks", pattern=r"^/")
    content: str | None = Field(None, min_length=1)
    prompt_tokens: int | None = Field(None, gt=0, le=1_000_000)
    max_tokens: int = Field(128, gt=0, le=1_000_000)
    tools: tuple[str, ...] | None = None
    poll: Polling = Polling()
    sla: DurationS | None = Field(
        None, gt=0, description="an answer slower than this is marked slow (not an error)"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> AgentTaskRequest:
        if (self.content is None) == (self.prompt_tokens is None):
            raise ValueError("give exactly one of content or prompt_tokens")
        return self


Request = Annotated[
    ChatRequest
    | HttpRequest
    | AgentSessionRequest
    | AgentTaskRequest
    | ResponsesRequest
    | A2ARequest,
    Field(discriminator="protocol"),
]


class Persona(PersonaSpec):
    """One session type of ``personas`` (see ``config.sessions.PersonaSpec``)."""

    request: Request | None = None
    actions: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")], Request] | None = None


class Scenario(Strict):
    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    seed: int = Field(0, ge=0, le=2**63 - 1)
    target: Target
    load: Load
    request: Request
    thresholds: Thresholds = Field((), description="pass/fail rules; see config.thresholds")
    targets: Targets = Field(default_factory=dict, description="per-action target table")
    telemetry: TelemetryConfig = Field(
        TelemetryConfig(), description="collectors sampled during the run; see config.telemetry"
    )
    actions: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")], Request] = Field(
        default_factory=dict, description="named requests besides `request` (named `request`)"
    )
    mix: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="weights of the actions (and `request`) per request"
    )
    flow: dict[str, dict[str, Annotated[float, Field(ge=0, le=1)]]] = Field(
        default_factory=dict,
        description="sessions: from an action, the probability of each next one; the rest ends",
    )
    personas: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")], Persona] = Field(
        default_factory=dict, description="sessions: a weighted mix of session types"
    )
    capacity: CapacityConfig | None = Field(
        None, description="what `agentload capacity` varies; see config.capacity"
    )

    @model_validator(mode="before")
    @classmethod
    def _request_follows_target(cls, data: Any) -> Any:
        # The protocol is named once, on the target; the requests inherit it.
        if not isinstance(data, dict):
            return data
        target = data.get("target")
        protocol = target.get("protocol", "openai-chat") if isinstance(target, dict) else None
        if not isinstance(protocol, str):
            return data
        data = inherit_protocol(data, protocol)  # the personas' requests
        if isinstance(data.get("request"), dict) and "protocol" not in data["request"]:
            data = {**data, "request": {**data["request"], "protocol": protocol}}
        actions = data.get("actions")
        if isinstance(actions, dict):
            data = {
                **data,
                "actions": {
                    k: {**v, "protocol": protocol}
                    if isinstance(v, dict) and "protocol" not in v
                    else v
                    for k, v in actions.items()
                },
            }
        return data

    @model_validator(mode="after")
    def _mix_and_flow(self) -> Scenario:
        names = {"request", *self.actions}
        for label, used in (("mix", set(self.mix)), ("flow", set(self.flow))):
            unknown = sorted(used - names)
            if unknown:
                raise ValueError(
                    f"{label} names {', '.join(unknown)}: not an action; "
                    f"known: {', '.join(sorted(names))}"
                )
        for origin, row in self.flow.items():
            unknown = sorted(set(row) - names)
            if unknown:
                raise ValueError(f"flow.{origin} leads to unknown {', '.join(unknown)}")
            if sum(row.values()) > 1 + 1e-9:
                raise ValueError(f"flow.{origin}: probabilities add up to more than 1")
        if self.flow and self.load.model != "sessions":
            raise ValueError("flow needs load.model: sessions (it chains the turns of a session)")
        if self.actions and not self.mix and not self.flow:
            raise ValueError("actions are used through mix (weights) or flow (a Markov chain)")
        # Actions may speak other protocols than the target's (clients.dispatch routes them).
        return self

    @model_validator(mode="after")
    def _personas(self) -> Scenario:
        if self.personas:
            check_personas(self)
        return self

    @model_validator(mode="after")
    def _capacity(self) -> Scenario:
        problem = None if self.capacity is None else capacity_load_problem(self.capacity, self.load)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.request.protocol != self.target.protocol:
            raise ValueError(
                f"request is for {self.request.protocol!r} but target.protocol is "
                f"{self.target.protocol!r}"
            )
        return self
