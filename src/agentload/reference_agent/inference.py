"""The seam between the agent's HTTP layer and whatever produces tokens.

``InferenceEngine`` is what the app talks to: the simulated engine implements it today; an
engine backed by a real model can implement it later. A ``Generation`` is one request inside
an engine: the engine pushes token texts into it as steps complete, the app reads them out
(``next_tokens``) and, at the end, its phase timings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from agentload.clock import NS_PER_MS
from agentload.reference_agent.text import TokenSource


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt_tokens: int
    max_tokens: int | None = None  # None: the engine's default length, ending with "stop"
    seed: int = 0  # picks the output text; same seed, same text


@dataclass(frozen=True, slots=True)
class EngineGauges:
    """Point-in-time state, for ``/metrics`` and tests."""

    queue_depth: int  # admitted by the HTTP layer, waiting for a batch slot
    running: int  # sequences in the decode batch
    kv_tokens: int  # tokens held in the KV cache by the running sequences
    steps: int  # scheduler steps since start
    tokens_generated: int
    requests_finished: int


class Generation:
    """One request's progress; written by the engine, read by one consumer."""

    __slots__ = (
        "_ended",
        "_queue",
        "_source",
        "admitted_ns",
        "arrived_ns",
        "cancelled",
        "done_ns",
        "error",
        "finish_reason",
        "generated",
        "output_tokens",
        "prefill_end_ns",
        "prompt_tokens",
    )

    def __init__(
        self,
        *,
        prompt_tokens: int,
        output_tokens: int,
        finish_reason: str,
        source: TokenSource,
        arrived_ns: int,
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens  # exactly how many tokens it will produce
        self.finish_reason = finish_reason
        self.arrived_ns = arrived_ns
        self.admitted_ns: int | None = None
        self.prefill_end_ns: int | None = None
        self.done_ns: int | None = None
        self.generated = 0
        self.error: str | None = None
        self.cancelled = False
        self._source = source
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._ended = False  # the consumer has read the end marker

    @property
    def kv_tokens(self) -> int:
        return self.prompt_tokens + self.generated

    @property
    def finished(self) -> bool:
        return self.done_ns is not None or self.error is not None

    # --- engine side ---------------------------------------------------------------------

    def emit_token(self, at_ns: int) -> bool:
        """Deliver one decoded token; True when that was the last one."""
        self.generated += 1
        self._queue.put_nowait(self._source.next_text())
        if self.generated < self.output_tokens:
            return False
        self.done_ns = at_ns
        self._queue.put_nowait(None)
        return True

    def fail(self, reason: str) -> None:
        if not self.finished:
            self.error = reason
            self._queue.put_nowait(None)

    # --- consumer side -------------------------------------------------------------------

    async def next_tokens(self) -> list[str]:
        """Wait for the next token; return it with any already queued ([] at the end).

        Draining what is ready lets a consumer that fell behind write one larger chunk.
        """
        if self._ended:
            return []
        tokens: list[str] = []
        item = await self._queue.get()
        while item is not None:
            tokens.append(item)
            if self._queue.empty():
                return tokens
            item = self._queue.get_nowait()
        self._ended = True
        return tokens

    def phases_ms(self) -> dict[str, float]:
        """``queue``, ``prefill``, ``decode``, ``total`` in ms: the ones known so far."""
        phases: dict[str, float] = {}
        if self.admitted_ns is None:
            return phases
        phases["queue"] = (self.admitted_ns - self.arrived_ns) / NS_PER_MS
        if self.prefill_end_ns is None:
            return phases
        phases["prefill"] = (self.prefill_end_ns - self.admitted_ns) / NS_PER_MS
        if self.done_ns is not None:
            phases["decode"] = (self.done_ns - self.prefill_end_ns) / NS_PER_MS
            phases["total"] = (self.done_ns - self.arrived_ns) / NS_PER_MS
        return phases


class InferenceEngine(Protocol):
    @property
    def model_name(self) -> str: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def submit(self, request: GenerationRequest) -> Generation: ...

    def cancel(self, generation: Generation) -> None:
        """Stop working on it (the client went away); a no-op once finished."""
        ...

    def gauges(self) -> EngineGauges: ...
