"""One unit of planned work: what to send, and when it was meant to go."""

from __future__ import annotations

import msgspec

from agentload.sessions.state import SessionState


class Work(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    intended_at: int  # ns on the run clock
    action: str
    method: str
    path: str
    body: bytes | None
    user: int | None = None
    input_tokens_est: int | None = None  # the builder's estimate, used when usage is absent
    session: SessionState | None = None  # set for turns of a session
    turn: int = 0
    sla_ms: float | None = None  # an ok answer slower than this (from intended_at) is slow
    headers: tuple[tuple[str, str], ...] = ()  # per request, besides the target's (affinity)
