"""Configuration of the simulated engine, and how the agent's settings map onto it.

``EngineConfig()`` has the settings' defaults except ``output_sigma``, 0 (every unlimited answer
is exactly ``default_max_tokens`` long, as before the distribution existed); ``from_settings``
takes the settings' 0.5. The ``profile`` setting is applied here: ``baseline`` decodes one
sequence at a time (``max_batch`` 1, no batching wait: the "before" of an optimisation; the
HTTP layer separately serialises requests), ``optimized`` uses the configured batching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from agentload.reference_agent.calibration import MODEL_FILES
from agentload.reference_agent.settings import AgentSettings

OomPolicy = Literal["fail", "preempt"]
OOM_POLICIES: tuple[OomPolicy, ...] = ("fail", "preempt")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model: str = "0.9b"  # a calibrated profile: "0.9b" or "8b"
    max_batch: int = 64  # sequences decoded together; later arrivals queue
    speed: float = 1.0  # 2.0 runs every step twice as fast as measured
    seed: int = 0  # with the request's seed, decides the output text and length
    default_max_tokens: int = 128  # median output length when a request sets no limit
    max_output_tokens: int = 4096  # cap on any request's output length
    max_wait_ms: float = 0.0  # batching window (real ms, not scaled by speed); 0: none
    kv_budget_tokens: int | None = None  # None: the model's default (see engine_kv)
    oom_policy: OomPolicy = "fail"  # over the KV budget: fail with model_oom, or preempt
    output_sigma: float = 0.0  # lognormal spread of unlimited answers; 0: always the median
    oom_rate: float = 0.0  # probability that a request fails with an injected model_oom

    def __post_init__(self) -> None:
        if self.model not in MODEL_FILES:
            raise ValueError(
                f"unknown model {self.model!r}; choose one of {', '.join(MODEL_FILES)}"
            )
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {self.max_batch}")
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed}")
        if self.default_max_tokens < 1 or self.max_output_tokens < 1:
            raise ValueError("default_max_tokens and max_output_tokens must be at least 1")
        if not (self.max_wait_ms >= 0 and math.isfinite(self.max_wait_ms)):
            raise ValueError(f"max_wait_ms must be finite and >= 0, got {self.max_wait_ms}")
        if self.kv_budget_tokens is not None and self.kv_budget_tokens < 1:
            raise ValueError(f"kv_budget_tokens must be at least 1, got {self.kv_budget_tokens}")
        if self.oom_policy not in OOM_POLICIES:
            raise ValueError(f"oom_policy must be fail or preempt, got {self.oom_policy!r}")
        if not 0 <= self.output_sigma <= 3:
            raise ValueError(f"output_sigma must be within [0, 3], got {self.output_sigma}")
        if not 0 <= self.oom_rate <= 1:
            raise ValueError(f"oom_rate must be within [0, 1], got {self.oom_rate}")

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> EngineConfig:
        """The engine the settings describe; ``engine.kind`` must be ``sim``."""
        engine = settings.engine
        if engine.kind != "sim":
            raise ValueError(f"engine.kind is {engine.kind!r}; the simulated engine is 'sim'")
        baseline = settings.profile == "baseline"
        return cls(
            model=engine.model,
            max_batch=1 if baseline else engine.max_batch,
            speed=engine.speed,
            seed=settings.seed,
            default_max_tokens=engine.output.median_tokens,
            max_output_tokens=engine.output.max_tokens,
            max_wait_ms=0.0 if baseline else engine.max_wait_ms,
            kv_budget_tokens=engine.kv_budget_tokens,
            oom_policy=engine.oom_policy,
            output_sigma=engine.output.sigma,
            oom_rate=settings.faults.oom_rate,
        )
