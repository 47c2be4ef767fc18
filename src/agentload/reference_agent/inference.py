"""The seam between the agent's HTTP layer and whatever produces tokens.

``InferenceEngine`` is what the app talks to: the simulated engine implements it, and so can
an engine backed by a real model. A ``Generation`` is one request inside an engine: the engine
pushes token texts into it as steps complete, the app reads them out (``next_tokens``) and, at
the end, its phase timings. A failed generation says why in ``error`` and what kind of failure
it was in ``error_kind`` (``MODEL_OOM`` is answered as HTTP 503 ``{"error": {"type":
"model_oom"}}``).

Two sets of phases: ``phases_ms()`` is measured on the engine's step schedule (what a client
sees, less network); ``sim_phases_ms()`` is what the simulated engine priced from the
calibration, on its own timeline, so it is identical across runs with the same seed and the
same arrival order (see ``engine_scheduler``). Engines that price nothing leave it at zero.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from agentload.clock import NS_PER_MS
from agentload.reference_agent.text import TokenSource

MODEL_OOM = "model_oom"  # the KV cache (or an injected fault) could not hold the request
SERVER_ERROR = "server_error"  # the engine is not running, or stopped
CANCELLED = "cancelled"  # the consumer went away


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt_tokens: int
    max_tokens: int | None = None  # None: the engine's output-length distribution, "stop"
    seed: int = 0  # picks the output text and length; same seed, same answer


@dataclass(frozen=True, slots=True)
class EngineGauges:
    """Point-in-time state and running totals since start, for ``/metrics`` and tests."""

    queue_depth: int  # admitted by the HTTP layer, waiting for a batch slot
    running: int  # sequences in the decode batch
    kv_tokens: int  # tokens held in the KV cache by the running sequences
    steps: int  # scheduler steps since start
    tokens_generated: int
    requests_finished: int
    kv_budget_tokens: int = 0  # the KV cache's capacity (0: not modelled)
    kv_reserved_tokens: int = 0  # held or promised (oom_policy "fail" reserves the maximum)
    preemptions: int = 0  # sequences evicted from the batch to be recomputed later
    ooms: int = 0  # requests failed with model_oom (budget or injected fault)
    tokens_prefilled: int = 0  # tokens run through prefill, recomputation included


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
        "error_kind",
        "finish_reason",
        "first_token_ns",
        "generated",
        "output_tokens",
        "preemptions",
        "prefill_end_ns",
        "prompt_tokens",
        "recomputed_ns",
        "requeued_ns",
        "sim_decode_ns",
        "sim_prefill_ns",
        "sim_queue_ns",
        "sim_ttft_ns",
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
        self.admitted_ns: int | None = None  # first admission into the batch
        self.prefill_end_ns: int | None = None  # end of the first prefill pass
        self.first_token_ns: int | None = None
        self.done_ns: int | None = None
        self.generated = 0
        self.error: str | None = None
        self.error_kind: str | None = None  # MODEL_OOM, SERVER_ERROR, CANCELLED, ...
        self.cancelled = False
        self.preemptions = 0
        # Measured time after preemptions: waiting again, and the recomputing prefill.
        self.requeued_ns = 0
        self.recomputed_ns = 0
        # Priced by a simulated engine on its own timeline (see the module docstring).
        self.sim_queue_ns = 0
        self.sim_prefill_ns = 0
        self.sim_decode_ns = 0
        self.sim_ttft_ns: int | None = None
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

    def emit_token(self, at_ns: int, text: str | None = None) -> bool:
        """Deliver one decoded token (``text``, or the seeded source's next); True when last."""
        if self.generated == 0:
            self.first_token_ns = at_ns
        self.generated += 1
        self._queue.put_nowait(text if text is not None else self._source.next_text())
        if self.generated < self.output_tokens:
            return False
        self.done_ns = at_ns
        self._queue.put_nowait(None)
        return True

    def fail(self, reason: str, kind: str = SERVER_ERROR) -> None:
        if not self.finished:
            self.error = reason
            self.error_kind = kind
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
        """Measured ``queue``, ``prefill``, ``decode``, ``total`` in ms: those known so far.

        After a preemption, the wait for a slot again counts as queue and the recomputation
        as prefill, so the four still add up.
        """
        phases: dict[str, float] = {}
        if self.admitted_ns is None:
            return phases
        phases["queue"] = (self.admitted_ns - self.arrived_ns + self.requeued_ns) / NS_PER_MS
        if self.prefill_end_ns is None:
            return phases
        phases["prefill"] = (self.prefill_end_ns - self.admitted_ns + self.recomputed_ns) / (
            NS_PER_MS
        )
        if self.done_ns is not None:
            decode_ns = self.done_ns - self.prefill_end_ns - self.requeued_ns - self.recomputed_ns
            phases["decode"] = decode_ns / NS_PER_MS
            phases["total"] = (self.done_ns - self.arrived_ns) / NS_PER_MS
        return phases

    def sim_phases_ms(self) -> dict[str, float]:
        """Priced ``queue``, ``prefill``, ``decode``, ``total`` in ms; final once finished."""
        queue, prefill, decode = self.sim_queue_ns, self.sim_prefill_ns, self.sim_decode_ns
        return {
            "queue": queue / NS_PER_MS,
            "prefill": prefill / NS_PER_MS,
            "decode": decode / NS_PER_MS,
            "total": (queue + prefill + decode) / NS_PER_MS,
        }


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
