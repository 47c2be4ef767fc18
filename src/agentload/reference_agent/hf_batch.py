"""Running one batch of the hf engine: prefill, then decode until every sequence is done.

Each forward pass runs in a worker thread (``asyncio.to_thread``; torch releases the GIL in
its kernels), so the event loop keeps accepting and streaming; everything else here runs on
the loop's thread, the only one that touches the generations and the counters. The prefill
pass yields each sequence's first token, as on a real server (time to first token = queue +
prefill); each decode step yields the next one, pushed to its ``Generation`` as soon as the
step returns. Rows that finished or were cancelled leave the KV cache at the next step.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agentload.reference_agent.hf_model import BatchState, ModelOOM, ModelRunner
from agentload.reference_agent.hf_text import prompt_ids, token_text
from agentload.reference_agent.inference import MODEL_OOM, Generation

logger = logging.getLogger(__name__)


class BatchRun:
    """The running batch and the engine's totals since start."""

    def __init__(self, engine_seed: int) -> None:
        self.engine_seed = engine_seed
        self.running: list[Generation] = []  # in the KV cache's row order
        self.steps = self.tokens = self.prefilled = self.finished = self.ooms = 0

    async def serve(self, runner: ModelRunner, batch: list[tuple[Generation, int]]) -> None:
        """Run ``(generation, request seed)`` pairs to the end; failures fail the batch only."""
        self.running = [generation for generation, _ in batch]
        specs = [(seed, generation.prompt_tokens) for generation, seed in batch]
        try:
            state, ids = await asyncio.to_thread(self._prefill, runner, specs)
            now_ns = time.monotonic_ns()
            self.prefilled += sum(n for _, n in specs)
            for generation in self.running:
                generation.prefill_end_ns = now_ns
            keep = self._emit(ids, now_ns)
            while self.running:
                ids = await asyncio.to_thread(runner.decode, state, keep)
                keep = self._emit(ids, time.monotonic_ns())
        except ModelOOM as exc:
            for generation in self.running:
                self.oom(generation, str(exc))
        except Exception as exc:  # one bad batch fails its requests, not the whole server
            logger.exception("hf engine: a batch of %d failed", len(batch))
            cause = str(exc).splitlines()[0] if str(exc) else ""
            self.fail_all(f"inference failed: {type(exc).__name__}: {cause}")
        self.running = []

    def fail_all(self, reason: str) -> None:
        for generation in self.running:
            generation.fail(reason)
        self.running = []

    def oom(self, generation: Generation, why: str) -> None:
        if not generation.finished:
            self.ooms += 1
            generation.fail(f"{MODEL_OOM}: {why}", MODEL_OOM)

    def _prefill(
        self, runner: ModelRunner, specs: list[tuple[int, int]]
    ) -> tuple[BatchState, list[int]]:
        vocab = runner.vocab_size
        prompts = [prompt_ids(self.engine_seed, seed, n, vocab) for seed, n in specs]
        return runner.prefill(prompts)

    def _emit(self, ids: list[int], at_ns: int) -> list[int]:
        """Hand each row its token; return the rows that go on to the next step."""
        self.steps += 1
        keep: list[int] = []
        for row, (generation, token_id) in enumerate(zip(self.running, ids, strict=True)):
            if generation.finished:  # cancelled while the step ran
                continue
            self.tokens += 1
            if generation.emit_token(at_ns, token_text(token_id)):
                self.finished += 1
            else:
                keep.append(row)
        self.running = [self.running[row] for row in keep]
        return keep
