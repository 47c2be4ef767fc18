"""Simulated inference engine: continuous batching on asyncio, timed by the calibration.

One scheduler task runs steps, as vLLM-style engines do; ``engine_scheduler`` decides what
each step holds (admission, the batching window, the KV budget, preemption) and what it costs,
and this module sleeps that cost and delivers the tokens. Queueing, batch growth, long
contexts and memory pressure thus slow requests down the way they do on the measured GPU.

Steps are scheduled on absolute deadlines, so the event loop's timer slack (1-2 ms per sleep)
never accumulates over a long answer, and the measured phases are recorded on that schedule.
When nothing is waiting or running, the task sleeps on an event rather than polling.

Build it from the agent's settings with ``SimulatedEngine.from_settings(settings)``; the
``profile`` setting ``baseline`` decodes one sequence at a time (see ``engine_config``).
Answer lengths: ``engine_output``; default KV budgets: ``engine_kv``. Injected OOMs
(``oom_rate``) are drawn in arrival order from a generator seeded by the engine seed, so a
retried request can succeed, and the same arrivals fail the same way in every run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from agentload.clock import NS_PER_MS, NS_PER_S
from agentload.reference_agent.calibration import ModelProfile, load_profile
from agentload.reference_agent.engine_config import EngineConfig
from agentload.reference_agent.engine_kv import KvBudget, default_kv_budget_tokens
from agentload.reference_agent.engine_lifecycle import EngineTask, planned_generation
from agentload.reference_agent.engine_scheduler import BatchScheduler
from agentload.reference_agent.engine_steps import Hold, Seq
from agentload.reference_agent.inference import (
    CANCELLED,
    EngineGauges,
    Generation,
    GenerationRequest,
)
from agentload.reference_agent.settings import AgentSettings

__all__ = ["EngineConfig", "SimulatedEngine"]

logger = logging.getLogger(__name__)

_MAX_SLACK_NS = 5 * NS_PER_MS


class SimulatedEngine(EngineTask):
    """An ``InferenceEngine`` that sleeps the calibrated cost of each step."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = cfg = config or EngineConfig()
        self.profile: ModelProfile = load_profile(cfg.model, speed=cfg.speed)
        self.kv_budget_tokens = cfg.kv_budget_tokens or default_kv_budget_tokens(cfg.model)
        self._scheduler = BatchScheduler(
            self.profile,
            max_batch=cfg.max_batch,
            max_wait_ms=cfg.max_wait_ms,
            kv=KvBudget(self.kv_budget_tokens, preempt=cfg.oom_policy == "preempt"),
        )
        self._faults = random.Random(f"{cfg.seed}:faults")
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> SimulatedEngine:
        return cls(EngineConfig.from_settings(settings))

    @property
    def model_name(self) -> str:
        return f"agentload-sim-{self.config.model}"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simulated-engine")

    def submit(self, request: GenerationRequest) -> Generation:
        cfg = self.config
        generation, output = planned_generation(request, cfg)
        if not self.running():
            generation.fail("the inference engine is not running")
            return generation
        inject_oom = cfg.oom_rate > 0 and self._faults.random() < cfg.oom_rate
        self._scheduler.add(Seq(generation, output.limit_tokens, inject_oom=inject_oom))
        self._wakeup.set()
        return generation

    def cancel(self, generation: Generation) -> None:
        if not generation.finished:
            generation.cancelled = True
            generation.fail("cancelled", CANCELLED)

    def gauges(self) -> EngineGauges:
        s = self._scheduler
        return EngineGauges(
            queue_depth=len(s.arrivals) + len(s.waiting),
            running=len(s.running),
            kv_tokens=s.kv_used_tokens(),
            steps=s.steps,
            tokens_generated=s.tokens_generated,
            requests_finished=s.finished,
            kv_budget_tokens=self.kv_budget_tokens,
            kv_reserved_tokens=sum(s.kv.held(seq) for seq in s.running),
            preemptions=s.preemptions,
            ooms=s.ooms,
            tokens_prefilled=s.tokens_prefilled,
        )

    async def _run(self) -> None:
        scheduler = self._scheduler
        point_ns = 0  # where the previous step or wait ended on the schedule
        try:
            while True:
                if not scheduler.has_work():
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    point_ns = 0  # a fresh schedule after idling
                now_ns = time.monotonic_ns()
                # Timer slack is absorbed so that it never adds up over an answer; a longer
                # stall (an overloaded event loop) is real delay and restarts the schedule.
                start_ns = point_ns if now_ns - point_ns <= _MAX_SLACK_NS else now_ns
                plan = scheduler.plan(start_ns)
                if plan is None:
                    point_ns = start_ns
                elif isinstance(plan, Hold):
                    point_ns = await self._hold(plan.until_ns)
                else:
                    delay_ns = plan.end_ns - time.monotonic_ns()
                    if delay_ns > 0:
                        await asyncio.sleep(delay_ns / NS_PER_S)
                    scheduler.finish(plan)
                    point_ns = plan.end_ns
        except Exception:
            logger.exception("simulated engine stopped")
            raise
        finally:
            scheduler.fail_all("the inference engine stopped")

    async def _hold(self, until_ns: int) -> int:
        """Sleep until ``until_ns`` or an arrival; return the schedule point it ended at."""
        self._wakeup.clear()
        try:
            async with asyncio.timeout(max(0, until_ns - time.monotonic_ns()) / NS_PER_S):
                await self._wakeup.wait()
        except TimeoutError:
            return until_ns
        return time.monotonic_ns()
