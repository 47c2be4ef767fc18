"""Context-loss detection by planted facts: a session tells the agent a nonce in an early
turn and asks for it in later ones; an answer without it is ``context_lost`` on that turn.

Pure: the nonce is drawn from (seed, session), the message text is rewritten here, and the
answer is judged here; clients only return the answer's text.
"""

from __future__ import annotations

import numpy as np

from agentload.records.record import CallResult, ErrorKind, Outcome
from agentload.sessions.state import SessionState

_MAX_SHOWN = 80


def session_nonce(seed: int, index: int) -> str:
    """Six digits, the same for the same (seed, session) and unlikely to be guessed."""
    return str(int(np.random.default_rng([seed, index, 13]).integers(100_000, 1_000_000)))


def turn_text(session: SessionState | None, turn: int, text: str) -> str:
    """This turn's message: the planted fact added on the plant turn, or the question
    instead of the message on a check turn (which then expects the nonce back)."""
    if session is None:
        return text
    session.expect_nonce = None
    check = session.context_check
    if check is None or session.nonce is None:
        return text
    if turn == check.plant_turn:
        return f"{check.plant.format(nonce=session.nonce)} {text}"
    since = turn - check.plant_turn
    if since > 0 and since % check.check_every == 0:
        session.expect_nonce = session.nonce
        return check.ask
    return text


def judge(session: SessionState | None, result: CallResult) -> CallResult:
    """``result``, turned into a ``context_lost`` error when a check turn's answer lacks
    the nonce (an answer that is already an error stays as it is)."""
    if session is None or session.expect_nonce is None or result.outcome is not Outcome.OK:
        return result
    nonce = session.expect_nonce
    answer = result.answer if result.answer is not None else _last_answer(session)
    if nonce in answer:
        return result
    shown = answer.strip().replace("\n", " ")[:_MAX_SHOWN]
    result.outcome = Outcome.ERROR
    result.error_kind = ErrorKind.CONTEXT_LOST
    result.error_message = f"the answer lacks the fact planted earlier ({nonce}): {shown!r}"
    return result


def _last_answer(session: SessionState) -> str:
    """A chat client keeps each answer in the client-side history."""
    for message in reversed(session.history):
        if message.role == "assistant":
            return message.content or ""
    return ""
