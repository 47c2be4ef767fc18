"""The hf engine's queue and batching policy: dynamic batching, not continuous.

A batch takes up to ``max_batch`` waiting requests, first come first served, once the batch
is full or the oldest request has waited ``max_wait_ms`` for company (a request that already
waited through a whole batch starts at once), and, with a KV budget, only as many as the
budget holds (prompt + output tokens). The engine runs a batch until all of its sequences
have finished; requests arriving meanwhile wait for the next batch. Joining a running
batch (continuous batching, which the simulated engine models) would need per-row cache
offsets that transformers' ``DynamicCache`` lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from agentload.clock import NS_PER_S
from agentload.reference_agent.inference import Generation

Entry = tuple[Generation, int]  # a waiting generation and its request's seed


class Waiting:
    """Submitted requests that no batch has taken yet; used from the event loop only."""

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque()
        self._arrival = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, generation: Generation, seed: int) -> None:
        self._entries.append((generation, seed))
        self._arrival.set()

    async def fill(self, max_batch: int, max_wait_ns: int) -> None:
        """Wait for a request, then until ``max_batch`` wait or the oldest has waited enough."""
        while not self._prune():
            self._arrival.clear()
            await self._arrival.wait()
        deadline_ns = self._entries[0][0].arrived_ns + max_wait_ns
        while self._prune() < max_batch and (left_ns := deadline_ns - time.monotonic_ns()) > 0:
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left_ns / NS_PER_S):
                    await self._arrival.wait()

    def take(self, max_batch: int, kv_budget: int | None, now_ns: int) -> list[Entry]:
        """The next batch, in arrival order; a request that would overflow the budget waits."""
        batch: list[Entry] = []
        kv_tokens = 0
        while self._entries and len(batch) < max_batch:
            generation = self._entries[0][0]
            if generation.finished:  # cancelled while it waited
                self._entries.popleft()
                continue
            need = generation.prompt_tokens + generation.output_tokens
            if kv_budget is not None and batch and kv_tokens + need > kv_budget:
                break
            batch.append(self._entries.popleft())
            generation.admitted_ns = max(now_ns, generation.arrived_ns)
            kv_tokens += need
        return batch

    def drain(self) -> list[Generation]:
        generations = [generation for generation, _ in self._entries]
        self._entries.clear()
        return generations

    def _prune(self) -> int:
        """Drop cancelled requests; return how many are waiting."""
        if any(generation.finished for generation, _ in self._entries):
            self._entries = deque(e for e in self._entries if not e[0].finished)
        return len(self._entries)
