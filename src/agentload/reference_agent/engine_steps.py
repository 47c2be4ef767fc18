"""What the simulated engine's scheduler keeps per request, and what it hands the engine."""

from __future__ import annotations

from dataclasses import dataclass

from agentload.clock import NS_PER_MS
from agentload.reference_agent.inference import Generation


@dataclass(slots=True, eq=False)
class Seq:
    """The scheduler's view of one generation; ``sim_*`` on the simulated timeline."""

    generation: Generation
    limit_tokens: int  # the longest answer the request allows (what ``fail`` reserves)
    inject_oom: bool = False  # drawn at arrival from faults.oom_rate
    sim_seen_ns: int = 0  # first seen by the scheduler
    sim_since_ns: int = 0  # started waiting: first seen, or preempted
    sim_prefill_end_ns: int = 0  # end of its latest prefill pass
    preempted_at_ns: int | None = None  # schedule time of a preemption not yet undone

    @property
    def reserve_tokens(self) -> int:
        return self.generation.prompt_tokens + self.limit_tokens


@dataclass(frozen=True, slots=True)
class Step:
    """One step: a prefill pass over the admitted prompts, then a decode step of the batch."""

    start_ns: int  # on the engine's schedule
    prefill_ns: int
    decode_ns: int

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.prefill_ns + self.decode_ns


@dataclass(frozen=True, slots=True)
class Hold:
    """Nothing runs; sleep until ``until_ns`` (a batching window's end) or the next arrival."""

    until_ns: int


def ms_to_ns(ms: float) -> int:
    return round(ms * NS_PER_MS)
