"""What the hf engine can be told, and how the agent's settings map onto it.

Mirrors the simulated engine's ``EngineConfig``: the same answer lengths (``engine_output``),
the same ``baseline`` profile (one sequence at a time, no batching window), the same injected
OOMs. What only a simulation can do does not apply: ``speed`` (the model runs as fast as it
runs) and ``oom_policy: preempt`` (over the budget, a request fails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from agentload.reference_agent.hf_model import ALIASES, NAMED_CONFIGS, named_config
from agentload.reference_agent.settings import AgentSettings, EngineSettings


@dataclass(frozen=True, slots=True)
class HFEngineConfig:
    model: str = "tiny"  # a named config or alias (see hf_model) or a local directory
    max_batch: int = 64  # sequences prefilled and decoded together
    max_wait_ms: float = 0.0  # how long the oldest waiting request may wait for company
    seed: int = 0  # the random weights of a named config; with a request's seed, its prompt
    default_max_tokens: int = 128  # median output length when a request sets no limit
    max_output_tokens: int = 4096  # cap on any request's output length
    output_sigma: float = 0.0  # lognormal spread of unlimited answers; 0: always the median
    kv_budget_tokens: int | None = None  # prompt + output tokens one batch may hold
    oom_rate: float = 0.0  # probability that a request fails with an injected model_oom
    device: str | None = None  # None: "cuda" when torch sees a GPU, else "cpu"
    attn: str = "eager"  # transformers attn_implementation; eager, as in the calibration
    # torch's CPU threads for the whole process (None: torch's default, one per core). On a
    # busy machine 1 is far steadier for a small model: spinning threads wait on each other.
    cpu_threads: int | None = None

    def __post_init__(self) -> None:
        if named_config(self.model) is None and not Path(self.model).is_dir():
            names = ", ".join((*NAMED_CONFIGS, *ALIASES))
            raise ValueError(f"model {self.model!r} is neither a directory nor one of {names}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {self.max_batch}")
        if not (self.max_wait_ms >= 0 and math.isfinite(self.max_wait_ms)):
            raise ValueError(f"max_wait_ms must be finite and >= 0, got {self.max_wait_ms}")
        if self.default_max_tokens < 1 or self.max_output_tokens < 1:
            raise ValueError("default_max_tokens and max_output_tokens must be at least 1")
        if not 0 <= self.output_sigma <= 3:
            raise ValueError(f"output_sigma must be within [0, 3], got {self.output_sigma}")
        if self.kv_budget_tokens is not None and self.kv_budget_tokens < 1:
            raise ValueError(f"kv_budget_tokens must be at least 1, got {self.kv_budget_tokens}")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"cpu_threads must be at least 1, got {self.cpu_threads}")
        if not 0 <= self.oom_rate <= 1:
            raise ValueError(f"oom_rate must be within [0, 1], got {self.oom_rate}")

    @classmethod
    def from_settings(
        cls,
        settings: AgentSettings | EngineSettings,
        *,
        seed: int | None = None,
        device: str | None = None,
    ) -> HFEngineConfig:
        """The engine the settings describe; ``engine.kind`` must be ``hf``.

        Given only the engine section, the rest (profile, faults) takes its defaults and
        ``seed`` (default 0) the seed; given the agent's settings, ``seed`` overrides theirs.
        """
        if isinstance(settings, EngineSettings):
            settings = AgentSettings(engine=settings)
        seed = settings.seed if seed is None else seed
        engine = settings.engine
        if engine.kind != "hf":
            raise ValueError(f"engine.kind is {engine.kind!r}; the transformers engine is 'hf'")
        baseline = settings.profile == "baseline"
        return cls(
            model=engine.model,
            max_batch=1 if baseline else engine.max_batch,
            max_wait_ms=0.0 if baseline else engine.max_wait_ms,
            seed=seed,
            default_max_tokens=engine.output.median_tokens,
            max_output_tokens=engine.output.max_tokens,
            output_sigma=engine.output.sigma,
            kv_budget_tokens=engine.kv_budget_tokens,
            oom_rate=settings.faults.oom_rate,
            device=device,
        )
