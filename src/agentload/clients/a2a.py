"""A2A client: JSON-RPC 2.0 over HTTP (``SendMessage``, ``SendStreamingMessage``, ``GetTask``).

A turn sends one user message (the builder writes the JSON-RPC body); the session's
``contextId`` comes from the first task the server opens and is sent with every later turn.
Streaming: each SSE ``data:`` is a JSON-RPC response whose result is a ``task``,
a ``statusUpdate`` or an ``artifactUpdate``; each artifact append is a token (TTFT, ITL), and
the turn ends with a terminal status (``TASK_STATE_COMPLETED``, ``_FAILED``, ...). The final
message's metadata may carry ``usage`` and ``context_lost`` (the reference agent's do). With
``get``, the task is then read back with ``GetTask`` (one more exchange, counted in ``polls``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from agentload.clients.classify import AGENT_FAILURE_KINDS, rules_for
from agentload.clients.failures import BodyTooLarge
from agentload.clients.payloads import json_object, phases_ms
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import Clock
from agentload.config.models import Target
from agentload.config.protocols import A2ARequest
from agentload.protocol.openai_chat import ProtocolError
from agentload.protocol.sse import SSEDecoder
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work

_TERMINAL = {
    "TASK_STATE_COMPLETED": Outcome.OK,
    "TASK_STATE_FAILED": Outcome.ERROR,
    "TASK_STATE_CANCELED": Outcome.ERROR,
    "TASK_STATE_REJECTED": Outcome.ERROR,
}


class A2AClient:
    def __init__(self, target: Target, request: A2ARequest, *, max_connections: int) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._rules = rules_for(target)
        self._get = request.get

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        turn = _Turn(self)
        result = await self._transport.exchange(work, timing, clock, turn)
        if not self._get or result.outcome is not Outcome.OK or turn.task_id is None:
            return result
        sent_at, first_token_at = timing.sent_at, timing.first_token_at
        body = {"jsonrpc": "2.0", "id": work.seq, "method": "GetTask",
                "params": {"id": turn.task_id}}  # fmt: skip
        get = msgspec.structs.replace(work, body=json.dumps(body).encode())
        got = await self._transport.exchange(get, timing, clock, _Get(self))
        timing.sent_at, timing.first_token_at = sent_at, first_token_at  # the turn's, not get's
        if got.outcome is not Outcome.OK:
            return got
        result.done_at = got.done_at
        result.polls = 1
        return result


class _Turn:
    def __init__(self, client: A2AClient) -> None:
        self._client = client
        self.task_id: str | None = None

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        client = self._client
        cap = client._transport.max_response_bytes
        if response.status != 200:
            return await error_result(response, clock, cap, client._rules)
        if response.content_type != "text/event-stream":
            task = _result(_json_rpc(await read_capped(response, cap))).get("task")
            if not isinstance(task, dict):
                raise ProtocolError("SendMessage answered without a task")
            return self._final(work, task, task.get("status"), clock, 1, ())
        decoder = SSEDecoder()
        size, chunks = 0, 0
        gaps_ms: list[float] = []
        last_token_at: int | None = None
        async for data in response.content.iter_any():
            now = clock.now_ns()
            size += len(data)
            if size > cap:
                raise BodyTooLarge(f"response exceeded {cap} bytes")
            for event in decoder.feed(data):
                result = _result(_json_rpc(event.data.encode()))
                if isinstance(task := result.get("task"), dict):
                    self._note(work, task.get("id"), task.get("contextId"))
                elif isinstance(update := result.get("artifactUpdate"), dict):
                    chunks += 1
                    if last_token_at is None:
                        timing.first_token_at = now
                    else:
                        gaps_ms.append((now - last_token_at) / 1e6)
                    last_token_at = now
                elif isinstance(update := result.get("statusUpdate"), dict):
                    status = update.get("status")
                    state = status.get("state") if isinstance(status, dict) else None
                    if state in _TERMINAL:
                        return self._final(work, update, status, clock, chunks, tuple(gaps_ms))
        raise ProtocolError("stream ended before the task reached a final state")

    def _note(self, work: Work, task_id: Any, context_id: Any) -> None:
        if isinstance(task_id, str):
            self.task_id = task_id
        if work.session is not None and isinstance(context_id, str) and context_id:
            work.session.thread_id = context_id

    def _final(
        self,
        work: Work,
        holder: dict[str, Any],
        status: Any,
        clock: Clock,
        chunks: int,
        itl_ms: tuple[float, ...],
    ) -> CallResult:
        self._note(work, holder.get("taskId", holder.get("id")), holder.get("contextId"))
        status = status if isinstance(status, dict) else {}
        state = str(status.get("state", ""))
        message = status.get("message") if isinstance(status.get("message"), dict) else {}
        assert isinstance(message, dict)
        meta = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        text = "".join(
            str(p.get("text", "")) for p in message.get("parts") or () if isinstance(p, dict)
        )
        done_at = clock.now_ns()
        if _TERMINAL.get(state) is not Outcome.OK:
            error = meta.get("error") if isinstance(meta.get("error"), dict) else {}
            assert isinstance(error, dict)
            kind = AGENT_FAILURE_KINDS.get(str(error.get("type")), ErrorKind.JOB_FAILED)
            return CallResult(
                done_at=done_at, outcome=Outcome.ERROR, error_kind=kind, http_status=200,
                error_message=f"task {state or 'ended'}: {text[:160]}",
            )  # fmt: skip
        usage = meta.get("usage") if isinstance(meta.get("usage"), dict) else None
        result = CallResult(
            done_at=done_at,
            outcome=Outcome.OK,
            http_status=200,
            chunks=chunks or 1,
            input_tokens=_int(usage, "prompt_tokens", work.input_tokens_est),
            output_tokens=_int(usage, "completion_tokens", chunks or max(1, len(text) // 4)),
            tokens_approx=usage is None,
            itl_ms=itl_ms,
            phases_ms=phases_ms(meta.get("phases_ms")),
            answer=text,
        )
        if meta.get("context_lost"):
            result.outcome = Outcome.ERROR
            result.error_kind = ErrorKind.CONTEXT_LOST
            result.error_message = "the agent answered without the context's earlier messages"
        return result


class _Get:
    def __init__(self, client: A2AClient) -> None:
        self._client = client

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        cap = self._client._transport.max_response_bytes
        if response.status != 200:
            return await error_result(response, clock, cap, self._client._rules)
        task = _result(_json_rpc(await read_capped(response, cap)))
        if "status" not in task:
            raise ProtocolError("GetTask answered without a task status")
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=200)


def _json_rpc(body: bytes) -> dict[str, Any]:
    return json_object(body, "a JSON-RPC payload")


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC result; an error object becomes a ProtocolError with its message."""
    error = reply.get("error")
    if isinstance(error, dict):
        raise ProtocolError(f"JSON-RPC error {error.get('code')}: {error.get('message')}")
    result = reply.get("result")
    if not isinstance(result, dict):
        raise ProtocolError("a JSON-RPC response without a result")
    return result


def _int(usage: dict[str, Any] | None, key: str, default: int | None) -> int | None:
    value = usage.get(key) if usage else None
    return int(value) if isinstance(value, int | float) else default
