"""Which error responses mean ``model_oom`` or ``context_lost``: the scenario's
``target.classify`` rules first, then defaults that match the reference agent and common
servers (``config.sessions.DEFAULT_CLASSIFY``). A rule matches when every condition it gives
holds: the status, the value at a dotted JSON path of the body, a regex over the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from agentload.config.models import Target
from agentload.config.sessions import DEFAULT_CLASSIFY, ClassifyRule
from agentload.records.record import ErrorKind

# An agent's own failure kinds, as an error body's ``type``/``code`` names them (the reference
# agent's, and what agent servers commonly use): the clients that read a failure object map
# these and call anything else by their protocol's generic kind.
AGENT_FAILURE_KINDS: dict[str, ErrorKind] = {
    kind.value: kind for kind in (ErrorKind.MODEL_OOM, ErrorKind.TOOL_ERROR, ErrorKind.CONTEXT_LOST)
}


def rules_for(target: Target) -> tuple[ClassifyRule, ...]:
    return (*target.classify, *DEFAULT_CLASSIFY)


def classify_body(
    status: int, body: bytes, rules: Sequence[ClassifyRule] = DEFAULT_CLASSIFY
) -> ErrorKind | None:
    """The kind of the first rule that matches, or None."""
    text: str | None = None
    parsed: Any = _UNPARSED
    for rule in rules:
        if rule.status is not None and rule.status != status:
            continue
        if rule.json_path is not None:
            if parsed is _UNPARSED:
                parsed = _json(body)
            if not _equal(_at(parsed, rule.json_path), rule.equals):
                continue
        if rule.body_regex is not None:
            text = body.decode("utf-8", "replace") if text is None else text
            if _pattern(rule.body_regex).search(text) is None:
                continue
        return ErrorKind(rule.kind)
    return None


_UNPARSED = object()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None  # a truncated or non-JSON body: no JSON rule matches


def _at(value: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _equal(found: Any, expected: str | int | bool | None) -> bool:
    if found is None or isinstance(found, dict | list):
        return False
    if isinstance(expected, bool) or isinstance(found, bool):
        return found is expected
    return found == expected or str(found) == str(expected)


@lru_cache(maxsize=64)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)
