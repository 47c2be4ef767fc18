"""The session API (JSON and SSE step events) and the async task API, over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from agentload.protocol.server_timing import parse_server_timing
from agentload.protocol.sse import SSEDecoder

pytestmark = pytest.mark.timeout(60)
PHASES = ["store_read", "queue", "prefill", "decode", "tool", "store_write", "total"]


def new_session(http: httpx.Client) -> str:
    resp = http.post("/v1/sessions")
    assert (
        resp.status_code == 201 and resp.headers["Location"] == f"/v1/sessions/{resp.json()['id']}"
    )
    return str(resp.json()["id"])


def say(http: httpx.Client, session_id: str, content: str, **extra: Any) -> httpx.Response:
    body = {"content": content, "max_tokens": 8, **extra}
    return http.post(f"/v1/sessions/{session_id}/messages", json=body)


def sse_events(text: str) -> list[tuple[str, Any]]:
    decoder = SSEDecoder()
    return [(e.event, json.loads(e.data)) for e in decoder.feed(text.encode())]


def test_session_json_turns_recall_facts(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        session_id = new_session(http)
        first = say(http, session_id, "My favourite city is Lisbon.")
        assert first.status_code == 200
        reply = first.json()
        assert reply["session_id"] == session_id and reply["context_lost"] is False
        assert reply["message"]["role"] == "assistant" and reply["message"]["content"]
        assert list(reply["phases_ms"]) == PHASES
        assert reply["usage"]["total_tokens"] == (
            reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
        )
        assert list(parse_server_timing(first.headers["Server-Timing"])) == PHASES
        second = say(http, session_id, "What is my favourite city?").json()
        assert "Lisbon" in second["message"]["content"]


def test_session_tool_use_is_reported(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        reply = say(http, new_session(http), "What is 6*7?").json()
    assert [c["name"] for c in reply["tool_calls"]] == ["calculator"]
    result = reply["tool_results"][0]
    assert result["ok"] and "42" in result["content"] and result["latency_ms"] >= 0
    assert reply["phases_ms"]["tool"] > 0


@pytest.mark.parametrize("how", ["body", "accept"])
def test_session_stream_of_step_events(fast_agent: str, how: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        session_id = new_session(http)
        if how == "body":
            resp = say(http, session_id, "What is 6*7?", stream=True)
        else:
            body = {"content": "What is 6*7?", "max_tokens": 8}
            headers = {"Accept": "text/event-stream"}
            resp = http.post(f"/v1/sessions/{session_id}/messages", json=body, headers=headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert "Server-Timing" in resp.headers
    events = sse_events(resp.text)
    names = [name for name, _ in events]
    assert names[0] == "step.started" and events[0][1] == {"step": "store_read"}
    assert names.index("tool.call") < names.index("tool.result") < names.index("token")
    assert names[-1] == "done" and "error" not in names
    steps = [data["step"] for name, data in events if name == "step.started"]
    assert steps == ["store_read", "plan", "inference", "tool", "inference", "store_write"]
    done = events[-1][1]
    assert list(done["phases_ms"]) == PHASES and done["usage"]["completion_tokens"] > 0
    assert resp.text.rstrip().splitlines()[-1].startswith(": server-timing store_read;dur=")


def test_deleted_session_loses_its_context(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        session_id = new_session(http)
        say(http, session_id, "My name is Ada.")
        assert http.delete(f"/v1/sessions/{session_id}").status_code == 204
        assert http.delete(f"/v1/sessions/{session_id}").status_code == 204  # idempotent
        after = say(http, session_id, "What is my name?").json()
    assert after["context_lost"] is True and "Ada" not in after["message"]["content"]


def test_session_bad_requests(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        session_id = new_session(http)
        for body in ({}, {"content": ""}, {"content": "x", "max_tokens": 0}, {"content": 3}):
            resp = http.post(f"/v1/sessions/{session_id}/messages", json=body)
            assert resp.status_code == 400, body
            assert resp.json()["error"]["type"] == "invalid_request_error"
        unknown = say(http, session_id, "hi", tools=["teleport"])
        assert unknown.status_code == 400 and "teleport" in unknown.json()["error"]["message"]
        assert http.post("/v1/sessions/bad id!/messages", json={"content": "x"}).status_code in (
            400,
            404,
        )


def poll(http: httpx.Client, location: str, until: set[str], timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        view = http.get(location).json()
        if view["status"] in until or time.monotonic() > deadline:
            return view
        time.sleep(0.02)


def test_task_runs_to_success(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        resp = http.post("/v1/tasks", json={"content": "What is 6*7?", "max_tokens": 10})
        assert resp.status_code == 202
        submitted = resp.json()
        assert submitted["status"] == "queued" and resp.headers["Location"] == (
            f"/v1/tasks/{submitted['id']}"
        )
        view = poll(http, resp.headers["Location"], {"succeeded", "failed"})
    assert view["status"] == "succeeded" and view["error"] is None
    assert view["result"]["tool_calls"][0]["name"] == "calculator"
    assert view["progress"]["tokens"] > 0 and view["progress"]["step"] == "inference"
    assert list(view["phases_ms"]) == PHASES
    assert view["created_at"] <= view["started_at"] <= view["finished_at"]


def test_task_progress_and_cancel(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        # 4000 tokens at 10x speed take seconds: long enough to watch and cancel.
        resp = http.post("/v1/tasks", json={"content": "Write at length.", "max_tokens": 4000})
        location = resp.headers["Location"]
        running = poll(http, location, {"running"})
        assert running["status"] == "running"
        deadline = time.monotonic() + 10
        while http.get(location).json()["progress"]["tokens"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        cancelled = http.delete(location)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        view = http.get(location).json()
        assert view["status"] == "cancelled" and view["error"]["type"] == "cancelled"
        assert http.get("/v1/tasks/task_nope").status_code == 404
        assert http.delete("/v1/tasks/task_nope").status_code == 404


def test_task_in_a_session_shares_its_memory(fast_agent: str) -> None:
    with httpx.Client(base_url=fast_agent, timeout=20) as http:
        session_id = new_session(http)
        say(http, session_id, "My name is Linus.")
        body = {"content": "What is my name?", "session_id": session_id, "max_tokens": 6}
        location = http.post("/v1/tasks", json=body).headers["Location"]
        view = poll(http, location, {"succeeded", "failed"})
    assert "Linus" in view["result"]["message"]["content"]
