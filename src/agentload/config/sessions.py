"""Scenario models of the session workload: distributions, personas, outcome classification.

One ``Distribution`` model serves every drawn quantity (turns per session, think time, session
duration, prompt and answer lengths). Written forms:

    think_time: 2s                                  # fixed
    think_time: {min: 1s, max: 3s}                  # uniform (the older form)
    turns: {median: 4, sigma: 0.5, max: 20}         # lognormal (the default kind)
    think_time: {kind: exponential, mean: 2s}
    turns: {kind: empirical, values: [1, 2, 8], weights: [5, 3, 1]}

``min``/``max`` clamp every kind (for uniform they are its bounds). Durations accept "250ms",
"2s" or seconds; for counts the same fields are plain numbers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from agentload.config.fields import Strict
from agentload.units import parse_duration_s

Number = Annotated[float, BeforeValidator(parse_duration_s)]
DISTRIBUTION_KINDS = ("lognormal", "fixed", "uniform", "exponential", "empirical")


class Distribution(Strict):
    """A non-negative quantity drawn per session or per turn (see the module docstring)."""

    kind: Literal["lognormal", "fixed", "uniform", "exponential", "empirical"] = "lognormal"
    median: Number | None = Field(None, gt=0, description="lognormal: the median")
    sigma: float = Field(0.5, ge=0, le=5, description="lognormal: spread of log(x)")
    mean: Number | None = Field(None, gt=0, description="exponential: the mean")
    value: Number | None = Field(None, ge=0, description="fixed: the value")
    min: Number = Field(0.0, ge=0, description="lower clamp (uniform: lower bound)")
    max: Number | None = Field(None, ge=0, description="upper clamp (uniform: upper bound)")
    values: tuple[Number, ...] = Field((), description="empirical: the observed values")
    weights: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        (), description="empirical: relative frequency of each value (default: equal)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"kind": "fixed", "value": data}
        if isinstance(data, dict) and "kind" not in data:
            if "value" in data:
                return {"kind": "fixed", **data}
            if "values" in data:
                return {"kind": "empirical", **data}
            if "mean" in data:
                return {"kind": "exponential", **data}
            if "median" not in data and "sigma" not in data and {"min", "max"} <= set(data):
                return {"kind": "uniform", **data}
        return data

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        if self.max is not None and self.max < self.min:
            raise ValueError("max must be at least min")
        needs = {"lognormal": "median", "exponential": "mean", "fixed": "value"}
        field = needs.get(self.kind)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"a {self.kind} distribution needs {field}")
        if self.kind == "uniform" and self.max is None:
            raise ValueError("a uniform distribution needs min and max")
        if self.kind == "empirical":
            if not self.values:
                raise ValueError("an empirical distribution needs values: [...]")
            if self.weights and len(self.weights) != len(self.values):
                raise ValueError("weights must have one entry per value")
        elif self.values or self.weights:
            raise ValueError("values and weights belong to kind: empirical")
        return self

    def upper_bound(self) -> float | None:
        """The largest value a draw can take, when there is one."""
        if self.kind == "fixed":
            assert self.value is not None
            return max(self.min, self.value if self.max is None else min(self.max, self.value))
        if self.kind == "empirical":
            top = max(self.values)
            return top if self.max is None else min(self.max, top)
        return self.max


DEFAULT_TURNS = Distribution(kind="lognormal", median=4, sigma=0.5, min=1, max=50)
DEFAULT_THINK = Distribution(kind="uniform", min=1.0, max=3.0)


class ClassifyRule(Strict):
    """Which responses mean a given error kind: a status, a JSON path's value, or a regex
    over the body; every condition given must hold. The first matching rule wins."""

    kind: Literal["model_oom", "context_lost", "tool_error", "http_429", "http_4xx", "http_5xx"]
    status: int | None = Field(None, ge=100, le=599)
    json_path: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", description="e.g. error.code"
    )
    equals: str | int | bool | None = Field(None, description="json_path's expected value")
    body_regex: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _some_condition(self) -> ClassifyRule:
        if self.status is None and self.json_path is None and self.body_regex is None:
            raise ValueError("give status, json_path (with equals) or body_regex")
        if (self.json_path is None) != (self.equals is None):
            raise ValueError("json_path and equals go together")
        if self.body_regex is not None:
            try:
                re.compile(self.body_regex)
            except re.error as exc:
                raise ValueError(f"body_regex: {exc}") from None
        return self


# What the reference agent and common servers (vLLM, TGI, PyTorch) answer when they run out of
# memory or lose a session; a scenario's own rules come first.
DEFAULT_CLASSIFY = (
    ClassifyRule(kind="model_oom", json_path="error.type", equals="model_oom"),
    ClassifyRule(kind="model_oom", json_path="error.code", equals="model_oom"),
    ClassifyRule(kind="context_lost", json_path="error.type", equals="context_lost"),
    ClassifyRule(kind="context_lost", json_path="error.code", equals="context_lost"),
    ClassifyRule(kind="tool_error", json_path="error.type", equals="tool_error"),
    ClassifyRule(kind="tool_error", json_path="error.code", equals="tool_error"),
    ClassifyRule(kind="model_oom", status=507),
    ClassifyRule(kind="model_oom", body_regex=r"(?i)CUDA out of memory|OutOfMemoryError"),
    ClassifyRule(kind="model_oom", body_regex=r"\bmodel_oom\b"),
)


class ContextCheck(Strict):
    """Plant a fact in an early turn and ask for it later: a later answer without it is a
    ``context_lost`` error on that turn. The sentences must be ones the agent understands;
    the defaults suit the reference agent ("the code is N" / "what is the code?")."""

    plant_turn: int = Field(0, ge=0, description="the turn whose message carries the fact")
    check_every: int = Field(1, ge=1, description="ask on every Nth turn after the plant")
    plant: str = Field("Remember that the code is {nonce}.", pattern=r"\{nonce\}")
    ask: str = Field("What is the code?", min_length=1)


class PersonaSpec(Strict):
    """One kind of session in a weighted mix of personas. A field left out takes the
    scenario's value (``request``, ``actions``, ``mix``, ``flow``) or ``load``'s
    (``turns``, ``think_time``, ``session_duration``)."""

    weight: float = Field(1.0, gt=0)
    # request and actions are declared by config.models.Persona (they need the Request union)
    mix: dict[str, Annotated[float, Field(gt=0)]] | None = None
    flow: dict[str, dict[str, Annotated[float, Field(ge=0, le=1)]]] | None = None
    turns: Distribution | None = None
    think_time: Distribution | None = None
    session_duration: Distribution | None = None
    system_prompt: str | None = Field(None, min_length=1, description="chat: a shared prefix")
    context_check: ContextCheck | None = None


def inherit_protocol(data: dict[str, Any], protocol: str) -> dict[str, Any]:
    """The scenario's raw data with ``protocol`` filled into each persona's requests (the
    protocol is named once, on the target)."""
    personas = data.get("personas")
    if not isinstance(personas, dict):
        return data

    def fill(request: Any) -> Any:
        if isinstance(request, dict) and "protocol" not in request:
            return {**request, "protocol": protocol}
        return request

    filled: dict[str, Any] = {}
    for name, persona in personas.items():
        if isinstance(persona, dict):
            persona = dict(persona)
            if "request" in persona:
                persona["request"] = fill(persona["request"])
            if isinstance(persona.get("actions"), dict):
                persona["actions"] = {k: fill(v) for k, v in persona["actions"].items()}
        filled[name] = persona
    return {**data, "personas": filled}


def resolve_dataset_paths(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Relative ``dataset`` paths of the requests, taken from the scenario file's folder."""

    def fix(request: Any) -> Any:
        path = request.get("dataset") if isinstance(request, dict) else None
        if not isinstance(path, str) or Path(path).is_absolute():
            return request
        return {**request, "dataset": str(base_dir / path)}

    def fix_all(node: dict[str, Any]) -> dict[str, Any]:
        node = {**node, "request": fix(node["request"])} if "request" in node else node
        if isinstance(node.get("actions"), dict):
            node = {**node, "actions": {k: fix(v) for k, v in node["actions"].items()}}
        return node

    data = fix_all(data)
    if isinstance(data.get("personas"), dict):
        personas = {
            k: fix_all(v) if isinstance(v, dict) else v for k, v in data["personas"].items()
        }
        data = {**data, "personas": personas}
    return data


def check_dataset(path: str | None) -> str | None:
    """The path, once the file reads as a conversation dataset (errors name file:line)."""
    if path is not None:
        from agentload.sessions.datasets import load_conversations  # sessions imports config

        load_conversations(path, max_conversations=1)
    return path
