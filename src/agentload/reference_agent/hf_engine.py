"""Inference engine backed by a real transformers causal LM (``engine: hf``).

Same seam and queue semantics as the simulated engine, with real forward passes. Batching is
dynamic, not continuous (see ``hf_scheduling``): a batch is prefilled in one left-padded pass,
then decoded greedily, one token per sequence per step over the KV cache, until all of its
sequences have finished or been cancelled; finished rows leave the cache at the next step.

* **Token timing and threads** (``hf_batch``): the prefill pass yields each sequence's
  first token, each decode step the next; forward passes run off the event loop.
  ``steps`` counts both kinds of pass.
* **Lengths and text.** Lengths are planned as in the simulated engine (``engine_output``)
  and produced exactly (end-of-sequence ids are not special); prompt ids and answer words
  come from ``hf_text``. Positions skip the padding, so batch neighbours do not change an
  answer.
* **Failures.** A prompt plus its output beyond the model's context fails at submission
  (``context_length_exceeded: ...``, a server error), and beyond ``kv_budget_tokens`` (when
  set) or by an injected fault (``oom_rate``, drawn in arrival order from the engine seed)
  with ``model_oom``. A device out-of-memory error fails its whole batch (``model_oom``),
  any other error in a forward pass too (``inference failed: ...``); the engine serves on.

Build it from the agent's settings with ``HFEngine.from_settings(settings)`` (``hf_config``).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from agentload.clock import NS_PER_MS
from agentload.reference_agent.engine_lifecycle import EngineTask, planned_generation
from agentload.reference_agent.hf_batch import BatchRun
from agentload.reference_agent.hf_config import HFEngineConfig
from agentload.reference_agent.hf_model import (
    ModelRunner,
    load_model,
    named_config,
    pick_device,
    require_hf,
    set_cpu_threads,
)
from agentload.reference_agent.hf_scheduling import Waiting
from agentload.reference_agent.inference import (
    CANCELLED,
    EngineGauges,
    Generation,
    GenerationRequest,
)
from agentload.reference_agent.settings import AgentSettings, EngineSettings

__all__ = ["HFEngine", "HFEngineConfig"]


class HFEngine(EngineTask):
    """An ``InferenceEngine`` that runs a transformers model; loads it in ``start``."""

    def __init__(self, config: HFEngineConfig | None = None) -> None:
        require_hf()  # fail at construction, with the extra's name, not at the first request
        self.config = config or HFEngineConfig()
        self.device = pick_device(self.config.device)
        self.runner: ModelRunner | None = None
        self._queue = Waiting()
        self._batch = BatchRun(self.config.seed)
        self._faults = random.Random(f"{self.config.seed}:faults")
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: AgentSettings | EngineSettings,
        *,
        seed: int | None = None,
        device: str | None = None,
    ) -> HFEngine:
        """See ``HFEngineConfig.from_settings``; the agent's whole settings are preferred."""
        return cls(HFEngineConfig.from_settings(settings, seed=seed, device=device))

    @property
    def model_name(self) -> str:
        name = named_config(self.config.model)
        return f"agentload-hf-{name}" if name else Path(self.config.model).resolve().name

    def load(self) -> ModelRunner:
        """Build or read the model now (blocking; ``start`` does it off the event loop)."""
        if self.runner is None:
            cfg = self.config
            if cfg.cpu_threads is not None and not self.device.startswith("cuda"):
                set_cpu_threads(cfg.cpu_threads)
            model = load_model(cfg.model, device=self.device, seed=cfg.seed, attn=cfg.attn)
            self.runner = ModelRunner(model)
        return self.runner

    async def start(self) -> None:
        if self._task is None:
            runner = await asyncio.to_thread(self.load)
            if self._task is None:  # a concurrent start may have won while this one loaded
                self._task = asyncio.create_task(self._run(runner), name="hf-engine")

    def submit(self, request: GenerationRequest) -> Generation:
        cfg = self.config
        generation, output = planned_generation(request, cfg)
        if not self.running() or self.runner is None:
            generation.fail("the inference engine is not running")
            return generation
        need = generation.prompt_tokens + output.tokens
        limit = self.runner.max_context
        if limit is not None and need > limit:
            generation.fail(
                f"context_length_exceeded: {generation.prompt_tokens} prompt + {output.tokens}"
                f" output tokens exceed the model's {limit}"
            )
        elif cfg.kv_budget_tokens is not None and need > cfg.kv_budget_tokens:
            self._batch.oom(
                generation, f"{need} tokens exceed the KV budget of {cfg.kv_budget_tokens}"
            )
        elif cfg.oom_rate > 0 and self._faults.random() < cfg.oom_rate:
            self._batch.oom(generation, "out of memory (injected fault)")
        else:
            self._queue.put(generation, request.seed)
        return generation

    def cancel(self, generation: Generation) -> None:
        if not generation.finished:
            generation.cancelled = True
            generation.fail("cancelled", CANCELLED)

    def gauges(self) -> EngineGauges:
        run = self._batch
        return EngineGauges(
            queue_depth=len(self._queue),
            running=len(run.running),
            kv_tokens=sum(g.kv_tokens for g in run.running),
            steps=run.steps,
            tokens_generated=run.tokens,
            requests_finished=run.finished,
            kv_budget_tokens=self.config.kv_budget_tokens or 0,
            kv_reserved_tokens=sum(g.prompt_tokens + g.output_tokens for g in run.running),
            ooms=run.ooms,
            tokens_prefilled=run.prefilled,
        )

    async def _run(self, runner: ModelRunner) -> None:
        cfg = self.config
        try:
            while True:
                await self._queue.fill(cfg.max_batch, round(cfg.max_wait_ms * NS_PER_MS))
                batch = self._queue.take(cfg.max_batch, cfg.kv_budget_tokens, time.monotonic_ns())
                if batch:
                    await self._batch.serve(runner, batch)
        finally:
            for generation in self._queue.drain():
                generation.fail("the inference engine stopped")
            self._batch.fail_all("the inference engine stopped")
