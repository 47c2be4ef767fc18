"""Simulated inference engine: continuous batching on asyncio, timed by the calibration.

One scheduler task runs steps, as vLLM-style engines do. Each step admits waiting requests
(first come, first served) while the batch has room, runs one prefill pass over the newly
admitted prompts, then one decode step for every running sequence; at the end of the step
each running sequence receives one token. A step lasts
``prefill_ms(new prompt tokens) + decode_step_ms(running, KV tokens)``, so queueing, batch
growth and long contexts slow requests down the way they do on the measured GPU.

Steps are scheduled on absolute deadlines, so the event loop's timer slack (1-2 ms per sleep)
never accumulates over a long answer, and phases are recorded on that schedule.
When nothing is waiting or running, the task sleeps on an event rather than polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from agentload.clock import NS_PER_MS, NS_PER_S
from agentload.reference_agent.calibration import MODEL_FILES, ModelProfile, load_profile
from agentload.reference_agent.inference import EngineGauges, Generation, GenerationRequest
from agentload.reference_agent.text import TokenSource

logger = logging.getLogger(__name__)

_MAX_SLACK_NS = 5 * NS_PER_MS


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model: str = "0.9b"  # a calibrated profile: "0.9b" or "8b"
    max_batch: int = 64  # sequences decoded together; later arrivals queue
    speed: float = 1.0  # 2.0 runs every step twice as fast as measured
    seed: int = 0  # with the request's seed, decides the output text
    default_max_tokens: int = 128  # output length when a request sets no limit
    max_output_tokens: int = 4096  # cap on any request's output length

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


class SimulatedEngine:
    """An ``InferenceEngine`` that sleeps the calibrated cost of each step."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.profile: ModelProfile = load_profile(self.config.model, speed=self.config.speed)
        self._waiting: deque[Generation] = deque()
        self._running: list[Generation] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._steps = 0
        self._tokens = 0
        self._finished = 0

    @property
    def model_name(self) -> str:
        return f"agentload-sim-{self.config.model}"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simulated-engine")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> SimulatedEngine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def submit(self, request: GenerationRequest) -> Generation:
        cfg = self.config
        limit = request.max_tokens if request.max_tokens is not None else cfg.default_max_tokens
        output_tokens = max(1, min(limit, cfg.max_output_tokens))
        # Asked-for limits are always reached exactly, which OpenAI reports as "length".
        hit_limit = request.max_tokens is not None or output_tokens < limit
        generation = Generation(
            prompt_tokens=max(1, request.prompt_tokens),
            output_tokens=output_tokens,
            finish_reason="length" if hit_limit else "stop",
            source=TokenSource(cfg.seed, request.seed),
            arrived_ns=time.monotonic_ns(),
        )
        if self._task is None or self._task.done():
            generation.fail("the inference engine is not running")
            return generation
        self._waiting.append(generation)
        self._wakeup.set()
        return generation

    def cancel(self, generation: Generation) -> None:
        if not generation.finished:
            generation.cancelled = True
            generation.fail("cancelled")

    def gauges(self) -> EngineGauges:
        return EngineGauges(
            queue_depth=len(self._waiting),
            running=len(self._running),
            kv_tokens=sum(g.kv_tokens for g in self._running),
            steps=self._steps,
            tokens_generated=self._tokens,
            requests_finished=self._finished,
        )

    async def _run(self) -> None:
        step_end_ns = 0  # scheduled end of the previous step
        try:
            while True:
                if not self._waiting and not self._running:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    step_end_ns = 0  # a fresh schedule after idling
                now_ns = time.monotonic_ns()
                # Timer slack is absorbed so that it never adds up over an answer; a longer
                # stall (an overloaded event loop) is real delay and restarts the schedule.
                late_ns = now_ns - step_end_ns
                step_start_ns = step_end_ns if late_ns <= _MAX_SLACK_NS else now_ns
                step_end_ns = self._plan_step(step_start_ns)
                delay_ns = step_end_ns - time.monotonic_ns()
                if delay_ns > 0:
                    await asyncio.sleep(delay_ns / NS_PER_S)
                self._finish_step(step_end_ns)
        except Exception:
            logger.exception("simulated engine stopped")
            raise
        finally:
            for generation in (*self._waiting, *self._running):
                generation.fail("the inference engine stopped")
            self._waiting.clear()
            self._running.clear()

    def _plan_step(self, start_ns: int) -> int:
        """Admit what fits, price the step, and return when it ends."""
        self._running = [g for g in self._running if not g.cancelled]
        admitted = self._admit(start_ns)
        prompt_tokens = sum(g.prompt_tokens for g in admitted)
        prefill_end_ns = start_ns + round(self.profile.prefill_ms(prompt_tokens) * NS_PER_MS)
        for generation in admitted:
            assert generation.admitted_ns is not None
            generation.prefill_end_ns = max(prefill_end_ns, generation.admitted_ns)
        kv_tokens = sum(g.kv_tokens for g in self._running)
        decode_ms = self.profile.decode_step_ms(len(self._running), kv_tokens)
        return prefill_end_ns + round(decode_ms * NS_PER_MS)

    def _admit(self, start_ns: int) -> list[Generation]:
        admitted: list[Generation] = []
        while self._waiting and len(self._running) < self.config.max_batch:
            generation = self._waiting.popleft()
            if generation.cancelled:
                continue
            # A request that arrived while the loop was waking up late joins at arrival.
            generation.admitted_ns = max(start_ns, generation.arrived_ns)
            admitted.append(generation)
            self._running.append(generation)
        return admitted

    def _finish_step(self, end_ns: int) -> None:
        self._steps += 1
        still_running: list[Generation] = []
        for generation in self._running:
            if generation.cancelled:
                continue
            self._tokens += 1
            if generation.emit_token(end_ns):
                self._finished += 1
            else:
                still_running.append(generation)
        self._running = still_running
