"""A Responses failure object names the agent's failure kind; unknown ones are protocol
errors (the A2A side is tested against the reference agent in test_a2a_client.py)."""

from __future__ import annotations

import pytest

from agentload.clients.openai_responses import _failed
from agentload.clock import MonotonicClock
from agentload.records.record import ErrorKind, Outcome


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("tool_error", ErrorKind.TOOL_ERROR),
        ("model_oom", ErrorKind.MODEL_OOM),
        ("context_lost", ErrorKind.CONTEXT_LOST),
        ("server_error", ErrorKind.PROTOCOL_ERROR),
    ],
)
def test_a_failed_response_is_classified_by_its_error_code(code: str, kind: ErrorKind) -> None:
    payload = {"response": {"status": "failed", "error": {"code": code, "message": "boom"}}}
    result = _failed(payload, MonotonicClock(), 200)
    assert result.outcome is Outcome.ERROR and result.error_kind is kind
    assert code in (result.error_message or "")
