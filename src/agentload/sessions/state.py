"""What one session carries from turn to turn (mutable; owned by that session's task)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentload.config.sessions import ContextCheck
from agentload.protocol.openai_chat import ChatMessage


@dataclass
class SessionState:
    session_id: str  # the load side's name for it, on every record of the session
    index: int = 0  # the session's number in the run (seeds its draws)
    history: list[ChatMessage] = field(default_factory=list)  # client-side context
    server_session_id: str | None = None  # an agent's own session id (session APIs)
    turns_done: int = 0
    failed: bool = False
    action: str | None = None  # the action of the last turn (Markov flows)
    next_action: str | None = None  # drawn with the last turn: the flow's next step
    ended: bool = False  # the flow chose to end the session
    persona: str | None = None  # the session type drawn from the scenario's personas
    context_check: ContextCheck | None = None  # plant a nonce, ask for it later
    nonce: str | None = None  # the fact planted in this session
    expect_nonce: str | None = None  # this turn's answer must contain it
    thread_id: str | None = None  # server-side thread: previous_response_id, A2A contextId
