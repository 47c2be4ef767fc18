"""Client of an agent's session API (the reference agent's ``/v1/sessions``).

The first turn of a session creates it (``POST {path}`` → ``{"id"}``; its time is the
``session_create`` phase and counts in the turn's latency, as a user would wait for it); each
turn posts one message to ``{path}/{id}/messages`` and reads SSE step events: ``step.started``
and ``tool.call``/``tool.result`` (time to first step and each step's time, see
``session_steps``), ``token`` (TTFT on the first, ITL between them), ``done`` (usage, the
server's phases, ``context_lost``), ``error``. A ``done`` with ``context_lost`` is a
``context_lost`` error: the agent answered without what the session had told it. An
``error`` event is classified like an error body (``target.classify``, then the defaults:
``model_oom``, ``context_lost``, ``tool_error``, ...); one no rule knows is a protocol error.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agentload.clients.classify import classify_body, rules_for
from agentload.clients.failures import BodyTooLarge
from agentload.clients.payloads import json_object, phases_ms
from agentload.clients.session_steps import StepTimer
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import Clock
from agentload.config.models import AgentSessionRequest, Target
from agentload.config.sessions import ClassifyRule
from agentload.protocol.openai_chat import ProtocolError
from agentload.protocol.sse import SSEDecoder
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work


class AgentSessionClient:
    def __init__(
        self, target: Target, request: AgentSessionRequest, *, max_connections: int
    ) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._rules = rules_for(target)
        self._collection = request.path.rstrip("/")

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        session = work.session
        assert session is not None, "the session builder always attaches a session"
        create_ms = 0.0
        if session.server_session_id is None:
            create = msgspec.structs.replace(work, path=self._collection, body=b"{}")
            created = await self._transport.exchange(create, timing, clock, _Created(session))
            if created.outcome is not Outcome.OK:
                return created
            create_ms = created.phases_ms["session_create"]
        first_sent_at = timing.sent_at
        message = msgspec.structs.replace(
            work, path=f"{self._collection}/{session.server_session_id}/messages"
        )
        result = await self._transport.exchange(message, timing, clock, self)
        if first_sent_at is not None:
            timing.sent_at = first_sent_at  # the turn began with the session's creation
        if create_ms:
            result.phases_ms["session_create"] = create_ms
        return result

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        cap = self._transport.max_response_bytes
        if response.status != 200:
            return await error_result(response, clock, cap, self._rules)
        if response.content_type != "text/event-stream":
            body = await read_capped(response, cap)
            result = _from_json(body, clock, response.status)
            if work.session is not None and work.session.expect_nonce:
                message = _session_json(body.decode("utf-8", "replace")).get("message")
                result.answer = str(message.get("content", "")) if isinstance(message, dict) else ""
            return result
        decoder = SSEDecoder()
        size = 0
        chunks = 0
        # The text is kept only when a context check will read it.
        answer: list[str] | None = [] if work.session and work.session.expect_nonce else None
        gaps_ms: list[float] = []
        last_token_at: int | None = None
        done: dict[str, Any] | None = None
        steps = StepTimer(timing.sent_at)
        async for data in response.content.iter_any():
            now = clock.now_ns()
            size += len(data)
            if size > cap:
                raise BodyTooLarge(f"response exceeded {cap} bytes")
            for event in decoder.feed(data):
                if event.event == "token":
                    if answer is not None:
                        answer.append(str(_session_json(event.data).get("text", "")))
                    chunks += 1
                    if last_token_at is None:
                        timing.first_token_at = now
                    else:
                        gaps_ms.append((now - last_token_at) / 1e6)
                    last_token_at = now
                elif event.event == "step.started":
                    steps.started(str(_session_json(event.data).get("step", "unknown")), now)
                elif event.event == "tool.call":
                    steps.tool_call(str(_session_json(event.data).get("name", "unknown")))
                elif event.event == "tool.result":
                    steps.tool_result(now)
                elif event.event == "done":
                    done = _session_json(event.data)
                elif event.event == "error":
                    failed = _error_event(event.data, clock, response.status, self._rules)
                    failed.phases_ms.update(steps.phases_ms(now, {}))
                    return failed
            if done is not None:
                break
        if done is None:
            raise ProtocolError("stream ended before its done event")
        result = _from_done(done, clock, response.status, chunks, tuple(gaps_ms))
        result.phases_ms.update(steps.phases_ms(result.done_at, phases_ms(done.get("phases_ms"))))
        if answer is not None:
            result.answer = "".join(answer)
        return result


class _Created:
    """Reads ``{"id": ...}`` of a new session into the session state."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        if response.status not in (200, 201):
            return await error_result(response, clock, 64 * 1024)
        body = _session_json((await read_capped(response, 64 * 1024)).decode("utf-8", "replace"))
        session_id = body.get("id")
        if not isinstance(session_id, str) or not session_id:
            raise ProtocolError("session creation answered without an id")
        self._session.server_session_id = session_id
        assert timing.sent_at is not None
        create_ms = (clock.now_ns() - timing.sent_at) / 1e6
        timing.first_byte_at = None  # the turn's first byte is the message's, not this one's
        return CallResult(
            done_at=clock.now_ns(), outcome=Outcome.OK, phases_ms={"session_create": create_ms}
        )


def _session_json(text: str) -> dict[str, Any]:
    return json_object(text, "a session API payload")


def _from_done(
    done: dict[str, Any], clock: Clock, status: int, chunks: int, itl_ms: tuple[float, ...]
) -> CallResult:
    usage = done.get("usage") if isinstance(done.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    result = CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.OK,
        http_status=status,
        chunks=chunks,
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens", chunks),
        tokens_approx="completion_tokens" not in usage,
        itl_ms=itl_ms,
        phases_ms=phases_ms(done.get("phases_ms")),
    )
    if done.get("context_lost"):
        return replace_result(
            result,
            outcome=Outcome.ERROR,
            error_kind=ErrorKind.CONTEXT_LOST,
            error_message="the agent answered without the session's earlier context",
        )
    return result


def _from_json(body: bytes, clock: Clock, status: int) -> CallResult:
    reply = _session_json(body.decode("utf-8", "replace"))
    done = {
        "usage": reply.get("usage"),
        "phases_ms": reply.get("phases_ms"),
        "context_lost": reply.get("context_lost"),
    }
    return _from_done(done, clock, status, 1, ())


def _error_event(
    text: str, clock: Clock, status: int, rules: tuple[ClassifyRule, ...]
) -> CallResult:
    data = _session_json(text)
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    assert isinstance(error, dict)
    kind_name = str(error.get("type", ""))
    # The event's data is the error body an endpoint would answer with: the same rules apply.
    kind = classify_body(status, text.encode(), rules) or ErrorKind.PROTOCOL_ERROR
    return CallResult(
        done_at=clock.now_ns(),
        outcome=Outcome.ERROR,
        error_kind=kind,
        error_message=f"error event: {kind_name}: {str(error.get('message', ''))[:160]}",
        http_status=status,
    )


def replace_result(result: CallResult, **changes: Any) -> CallResult:
    return msgspec.structs.replace(result, **changes)
