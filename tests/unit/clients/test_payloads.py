"""What an agent API answered, decoded: a JSON object or a protocol error naming its source."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.clients.payloads import json_object, phases_ms
from agentload.protocol.openai_chat import ProtocolError


def test_an_object_decodes_from_bytes_or_text() -> None:
    assert json_object(b'{"a": 1}', "x") == {"a": 1}
    assert json_object('{"a": [1]}', "x") == {"a": [1]}


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{oops", "invalid JSON in the task API's answer"), (b"[1, 2]", "is not a JSON object")],
)
def test_anything_else_is_a_protocol_error_naming_the_payload(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        json_object(body, "the task API's answer")


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.floats(), st.text())))
def test_phases_keep_the_numbers_only(value: dict[str, object]) -> None:
    kept = phases_ms(value)
    assert set(kept) == {k for k, v in value.items() if isinstance(v, int | float)}
    assert all(isinstance(v, float) for v in kept.values())
    assert phases_ms([1, 2]) == {} and phases_ms(None) == {}
