"""Decoding what an agent API answers: a JSON object, or a protocol error that says whose
payload was bad (the record's error message is what a user reads)."""

from __future__ import annotations

import json
from typing import Any

from agentload.protocol.openai_chat import ProtocolError


def json_object(body: bytes | str, source: str) -> dict[str, Any]:
    """``body`` as a JSON object; ``source`` names the payload in the error, e.g.
    "a JSON-RPC payload"."""
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"invalid JSON in {source}: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{source} is not a JSON object")
    return value


def phases_ms(value: Any) -> dict[str, float]:
    """A ``{"phase": ms}`` mapping as sent; entries that are not numbers are left out."""
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
