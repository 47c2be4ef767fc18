"""Everything the reference agent can be told: flags and an optional YAML file, validated.

One frozen ``AgentSettings`` is built at start-up (``load_settings``) and handed to every
part: the engine, the context store, the tools, the HTTP layer and the fault injector read
their own section and nothing else. Unknown keys and bad values are errors with the field
path, so a typo in a fault rate cannot silently run a clean service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutputLength(_Strict):
    """Answer length when a request sets no ``max_tokens``: lognormal around a median."""

    median_tokens: int = Field(128, ge=1, le=100_000)
    sigma: float = Field(0.5, ge=0, le=3)  # 0: always the median
    max_tokens: int = Field(4096, ge=1, le=1_000_000)  # cap on any answer


class EngineSettings(_Strict):
    kind: Literal["sim", "hf"] = "sim"
    model: str = "0.9b"  # sim: a calibration profile (0.9b, 8b); hf: a local path or config name
    max_batch: int = Field(64, ge=1, le=65_536)
    max_wait_ms: float = Field(0.0, ge=0, le=10_000)  # dynamic batching wait window
    kv_budget_tokens: int | None = Field(None, ge=1)  # None: the profile's default
    oom_policy: Literal["fail", "preempt"] = "fail"
    speed: float = Field(1.0, gt=0, le=1_000_000)
    output: OutputLength = OutputLength()


class ToolSettings(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    latency_ms_median: float = Field(100.0, ge=0)
    latency_sigma: float = Field(0.4, ge=0, le=3)  # lognormal spread
    error_rate: float = Field(0.0, ge=0, le=1)
    slow_rate: float = Field(0.0, ge=0, le=1)
    slow_factor: float = Field(10.0, ge=1)


def _default_tools() -> tuple[ToolSettings, ...]:
    return (
        ToolSettings(name="search", description="Search the web", latency_ms_median=150),
        ToolSettings(name="lookup_order", description="Look up an order", latency_ms_median=40),
        ToolSettings(name="calculator", description="Evaluate arithmetic", latency_ms_median=2),
    )


class StoreSettings(_Strict):
    url: str = "memory://"  # or redis://host:port/db
    capacity_sessions: int = Field(10_000, ge=1)  # memory store: LRU beyond this
    max_history_messages: int = Field(200, ge=1)


class FaultSettings(_Strict):
    """Injected faults; every rate is a probability per request (or per tool call)."""

    oom_rate: float = Field(0.0, ge=0, le=1)
    http_429_rate: float = Field(0.0, ge=0, le=1)
    retry_after_s: float | None = Field(1.0, ge=0)  # None: 429 without Retry-After
    http_5xx_rate: float = Field(0.0, ge=0, le=1)
    reset_rate: float = Field(0.0, ge=0, le=1)  # connection reset in the middle of a stream
    stall_every_s: float | None = Field(None, gt=0)  # the whole service freezes ...
    stall_ms: float = Field(0.0, ge=0)  # ... for this long, periodically
    store_latency_ms: float = Field(0.0, ge=0)  # added to every store read and write
    # per tool call: the tool fails and the turn fails with it (error kind tool_error)
    tool_error_rate: float = Field(0.0, ge=0, le=1)


class AgentSettings(_Strict):
    profile: Literal["optimized", "baseline"] = "optimized"
    seed: int = Field(0, ge=0)
    engine: EngineSettings = EngineSettings()
    store: StoreSettings = StoreSettings()
    tools: tuple[ToolSettings, ...] = Field(default_factory=_default_tools)
    faults: FaultSettings = FaultSettings()
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="clients must send this environment variable's value (see auth.py)",
    )

    @model_validator(mode="after")
    def _stall(self) -> AgentSettings:
        if (self.faults.stall_every_s is None) != (self.faults.stall_ms == 0):
            raise ValueError("faults.stall_every_s and faults.stall_ms go together")
        return self


class SettingsError(ValueError):
    """Bad agent settings; the message has one line per problem (file, field, what's wrong)."""


def load_settings(path: str | Path | None = None, **overrides: Any) -> AgentSettings:
    """Settings from an optional YAML file, then dotted overrides (``engine.max_batch=8``)."""
    source = str(path) if path is not None else "flags"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{source}: cannot read agent settings: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"{source}: agent settings must be a mapping")
        data = loaded or {}
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return AgentSettings.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{source}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise SettingsError("\n".join(lines)) from None
