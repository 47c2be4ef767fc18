"""The scenario: typed, frozen, and strict (unknown keys are errors, not silently ignored).

Durations accept "250ms", "30s", "2m" or seconds; rates accept "20/s", "1200/m" or per
second. Models hold configuration only; no runtime state lives here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from agentload.config.capacity import (
    CapacityConfig,
    capacity_load_problem,
)
from agentload.config.fields import DurationS, Strict
from agentload.config.load import (
    AdaptiveLoad,
    ClosedLoad,
    Load,
    OpenLoad,
    SessionLoad,
    ThinkTime,
    TurnCount,
)
from agentload.config.personas import check_personas
from agentload.config.requests import (
    AgentSessionRequest,
    AgentTaskRequest,
    ChatRequest,
    HttpRequest,
    Message,
    Polling,
    Request,
)
from agentload.config.retry import RetryPolicy
from agentload.config.sessions import (
    ClassifyRule,
    PersonaSpec,
    inherit_protocol,
)
from agentload.config.telemetry import TelemetryConfig
from agentload.config.thresholds import Targets, Thresholds

# The sections live in config.load and config.requests; importers keep one address.
__all__ = [
    "AdaptiveLoad",
    "AgentSessionRequest",
    "AgentTaskRequest",
    "ChatRequest",
    "ClosedLoad",
    "HttpRequest",
    "Load",
    "Message",
    "OpenLoad",
    "Persona",
    "Polling",
    "Request",
    "Scenario",
    "SessionLoad",
    "Target",
    "ThinkTime",
    "Timeouts",
    "TurnCount",
]


class Timeouts(Strict):
    connect: DurationS = Field(5.0, gt=0, description="TCP (and TLS) connect")
    first_byte: DurationS = Field(60.0, gt=0, description="from send to the first response byte")
    total: DurationS = Field(300.0, gt=0, description="from send to the end of the response")


def _check_base_url(value: str) -> str:
    try:
        url = urlsplit(value)
        port = url.port  # raises for a port out of range
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"{value!r}: write it as http(s)://host[:port][/prefix]")
    if url.username is not None or url.password is not None:
        raise ValueError(
            "credentials in the URL would be written to the run directory; "
            "send them in target.headers with ${ENV_VAR}"
        )
    if url.query or url.fragment:
        raise ValueError("no query string or fragment in base_url; put them in request.path")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return value


def _check_proxy(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises for a port out of range
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"{value!r}: write it as http://host:port (an HTTP proxy)")
    if url.username is not None or url.password is not None:
        raise ValueError(
            "credentials in the proxy URL would be written to the run directory; "
            "agentload does not send proxy credentials"
        )
    if (url.path not in ("", "/")) or url.query or url.fragment:
        raise ValueError(f"{value!r}: a proxy is http://host:port, without a path")
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
    proxy: Annotated[str | None, AfterValidator(_check_proxy)] = Field(
        None,
        description="http://host:port of an HTTP proxy to send through (the aiohttp transport; "
        "auto picks it). HTTP_PROXY and friends are not read: a load test's path is explicit",
    )

    @model_validator(mode="after")
    def _phases_need_aiohttp(self) -> Target:
        if self.client_phases and self.transport == "fast":
            raise ValueError(
                "client_phases are timed by the aiohttp transport: set transport: auto or aiohttp"
            )
        if self.proxy is not None and self.transport == "fast":
            raise ValueError(
                "the fast transport does not go through a proxy: set transport: auto or aiohttp"
            )
        return self


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
