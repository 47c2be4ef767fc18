"""The reference agent's Responses endpoint and the ``openai-responses`` client: the server
keeps each thread, the client continues it with ``previous_response_id``."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from urllib import request as urlrequest
from urllib.error import HTTPError

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir

pytestmark = pytest.mark.timeout(120)


def post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode()
    req = urlrequest.Request(url + "/v1/responses", data, {"Content-Type": "application/json"})
    try:
        with urlrequest.urlopen(req, timeout=20) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_thread_remembers_and_an_unknown_one_is_404(fast_agent: str) -> None:
    status, first = post(fast_agent, {"input": "Remember that the code is 5150.", "stream": False})
    assert status == 200 and first["status"] == "completed"
    assert str(first["id"]).startswith("resp_")
    status, second = post(
        fast_agent, {"input": "What is the code?", "previous_response_id": first["id"]}
    )
    assert status == 200 and second["previous_response_id"] == first["id"]
    output = second["output"]
    assert isinstance(output, list)
    assert output[0]["content"][0]["text"].startswith("The code is 5150.")
    usage = second["usage"]
    assert isinstance(usage, dict) and isinstance(first["usage"], dict)
    assert usage["input_tokens"] > first["usage"]["input_tokens"]  # the history came along
    status, missing = post(fast_agent, {"input": "hi", "previous_response_id": "nonsense"})
    assert status == 404 and "not found" in str(missing["error"])


def answer_text(reply: dict[str, object]) -> str:
    output = reply["output"]
    assert isinstance(output, list)
    return str(output[0]["content"][0]["text"])


def test_input_may_be_a_list_of_messages(fast_agent: str) -> None:
    parts = [{"type": "input_text", "text": "Remember that the code is 8086."}]
    status, first = post(fast_agent, {"input": [
        {"role": "developer", "content": "Answer briefly."},
        {"type": "message", "role": "user", "content": parts},
    ]})  # fmt: skip
    assert status == 200 and first["status"] == "completed"
    # The fact planted through content parts is in the thread: a string item can ask for it.
    status, second = post(fast_agent, {
        "input": [{"role": "user", "content": "What is the code?"}],
        "previous_response_id": first["id"],
    })  # fmt: skip
    assert status == 200 and answer_text(second).startswith("The code is 8086.")
    # One list can carry a whole conversation; the history counts as input.
    history = [
        {"role": "user", "content": "Remember that the code is 6502."},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Noted."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "What is the code?"}]},
    ]
    status, whole = post(fast_agent, {"input": history})
    assert status == 200 and answer_text(whole).startswith("The code is 6502.")
    status, alone = post(fast_agent, {"input": "What is the code?"})
    assert status == 200 and not answer_text(alone).startswith("The code is 6502.")
    usage, alone_usage = whole["usage"], alone["usage"]
    assert isinstance(usage, dict) and isinstance(alone_usage, dict)
    assert usage["input_tokens"] > alone_usage["input_tokens"]


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [{"role": "user"}],
        [{"role": "robot", "content": "hi"}],
        [{"role": "user", "content": []}],
        [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}],
        [{"role": "user", "content": [{"type": "input_text"}]}],
        {"role": "user", "content": "hi"},
    ],
)
def test_a_malformed_message_list_is_a_client_error(fast_agent: str, bad: object) -> None:
    status, reply = post(fast_agent, {"input": bad})
    assert status in (400, 422) and ("error" in reply or "detail" in reply)


@pytest.mark.parametrize("stream", [True, False])
def test_sessions_thread_their_turns(fast_agent: str, tmp_path: Path, stream: bool) -> None:
    data = {
        "seed": 6,
        "target": {"base_url": fast_agent, "protocol": "openai-responses"},
        "load": {"model": "sessions", "rate": "10/s", "sessions": 4, "turns": 3,
                 "think_time": "20ms"},
        "request": {"prompt_tokens": 30, "max_tokens": 10, "stream": stream},
    }  # fmt: skip
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    records = list(RunDir.open(result.run_dir).iter_records())
    assert len(records) == 12 and all(r.outcome is Outcome.OK for r in records)
    by_session: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in records:
        by_session[record.session_id].append(record)
    for turns in by_session.values():
        turns.sort(key=lambda r: r.turn)
        for before, after in pairwise(turns):
            # Only the new message is sent, yet the server counts the whole thread.
            assert (after.input_tokens or 0) > (before.input_tokens or 0) + 10
        assert all((r.first_token_at is not None) == stream for r in turns)
        assert all(r.output_tokens for r in turns)
