"""An ``a2a-sdk`` client against the reference agent: agent card, send, stream, get task."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

pytest.importorskip("a2a.server.routes", reason="the a2a extra is not installed")

from a2a.client import A2ACardResolver, ClientConfig, create_client
from a2a.types.a2a_pb2 import (
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout=30)

    return asyncio.run(bounded())


def message(text: str, context_id: str = "") -> SendMessageRequest:
    msg = Message(
        role=Role.ROLE_USER, message_id=str(uuid.uuid4()), context_id=context_id,
        parts=[Part(text=text)],
    )  # fmt: skip
    return SendMessageRequest(message=msg)


async def send(url: str, text: str, *, streaming: bool, context_id: str = "") -> list[Any]:
    client = await create_client(url, ClientConfig(streaming=streaming))
    try:
        events: list[StreamResponse] = []
        async for event in client.send_message(message(text, context_id)):
            events.append(event)
        return events
    finally:
        await client.close()


async def final_task(url: str, events: list[StreamResponse]) -> Task:
    first = events[0]
    task_id = first.task.id if first.HasField("task") else first.status_update.task_id
    client = await create_client(url, ClientConfig(streaming=False))
    try:
        return await client.get_task(GetTaskRequest(id=task_id))
    finally:
        await client.close()


def test_agent_card(fast_agent: str) -> None:
    async def fetch() -> Any:
        import httpx

        async with httpx.AsyncClient() as http:
            return await A2ACardResolver(http, fast_agent).get_agent_card()

    card = run(fetch)
    assert card.name == "agentload reference agent" and card.capabilities.streaming
    interface = card.supported_interfaces[0]
    assert interface.protocol_binding == "JSONRPC" and interface.url == f"{fast_agent}/a2a"
    assert "chat" in [skill.id for skill in card.skills]


def test_send_then_get_task(fast_agent: str) -> None:
    async def scenario() -> tuple[list[StreamResponse], Task]:
        events = await send(fast_agent, "Hello, agent.", streaming=False)
        return events, await final_task(fast_agent, events)

    events, task = run(scenario)
    assert [e.WhichOneof("payload") for e in events] == ["task"]
    assert events[0].task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    answer = "".join(p.text for a in task.artifacts for p in a.parts)
    assert answer and task.status.message.parts[0].text == answer
    meta = task.status.message.metadata
    assert set(meta["phases_ms"]) >= {"queue", "prefill", "decode", "total"}
    assert meta["usage"]["completion_tokens"] > 0 and meta["context_lost"] is False


def test_streaming_sends_tokens_as_artifact_updates(fast_agent: str) -> None:
    events = run(lambda: send(fast_agent, "Stream, please.", streaming=True))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task" and kinds.count("artifact_update") >= 2
    last = events[-1]
    assert last.HasField("status_update")
    assert last.status_update.status.state == TaskState.TASK_STATE_COMPLETED
    streamed = "".join(
        p.text
        for e in events
        if e.HasField("artifact_update")
        for p in e.artifact_update.artifact.parts
    )
    assert streamed == last.status_update.status.message.parts[0].text


def test_a_context_remembers_earlier_messages(fast_agent: str) -> None:
    async def scenario() -> str:
        events = await send(fast_agent, "My name is Grace.", streaming=False)
        context_id = events[0].task.context_id
        events = await send(fast_agent, "What is my name?", streaming=False, context_id=context_id)
        return str(events[0].task.status.message.parts[0].text)

    assert "Grace" in run(scenario)
