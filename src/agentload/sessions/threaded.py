"""Bodies of the protocols whose server keeps the conversation: each turn sends only its new
message and names the thread the previous answer opened (``SessionState.thread_id``).

- OpenAI Responses: ``{"model", "input", "max_output_tokens", "stream",
  "previous_response_id"}``; the client stores each answer's ``id`` as the thread.
- A2A (JSON-RPC 2.0): ``SendMessage`` / ``SendStreamingMessage`` with a user ``Message``;
  the client stores the ``contextId`` the server gave the first task.
"""

from __future__ import annotations

import json
from typing import Any

from agentload.config.protocols import A2ARequest, ResponsesRequest
from agentload.sessions.builders import sla_ms, synthetic_text
from agentload.sessions.nonce import turn_text
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work


class _Threaded:
    action = "turn"

    def __init__(self, request: ResponsesRequest | A2ARequest, seed: int) -> None:
        self._request = request
        text = request.input if isinstance(request, ResponsesRequest) else request.content
        if text is not None:
            self._text, self._fixed = text, True
        else:
            assert request.prompt_tokens is not None
            self._text, self._fixed = synthetic_text(seed, request.prompt_tokens - 3), False
        self._tokens_est = request.prompt_tokens or max(1, len(self._text) // 4)

    def _message(self, seq: int, session: SessionState | None, turn: int) -> str:
        text = self._text if self._fixed else f"turn {seq}: {self._text}"
        return turn_text(session, turn, text)

    def _work(
        self, seq: int, intended_at: int, user: int | None, session: SessionState | None,
        turn: int, body: dict[str, Any], headers: tuple[tuple[str, str], ...] = (),
    ) -> Work:  # fmt: skip
        return Work(
            seq=seq,
            intended_at=intended_at,
            action=self.action,
            method="POST",
            path=self._request.path,
            body=json.dumps(body, separators=(",", ":")).encode(),
            user=user,
            input_tokens_est=self._tokens_est,
            # Outside the sessions model every request is a one-turn conversation.
            session=session if session is not None else SessionState(session_id=f"r{seq}"),
            turn=turn,
            sla_ms=sla_ms(self._request.sla),
            headers=headers,
        )


class ResponsesBuilder(_Threaded):
    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        request = self._request
        assert isinstance(request, ResponsesRequest)
        body: dict[str, Any] = {
            "model": request.model,
            "input": self._message(seq, session, turn),
            "max_output_tokens": request.max_tokens,
            "stream": request.stream,
        }
        if session is not None and session.thread_id is not None:
            body["previous_response_id"] = session.thread_id
        return self._work(seq, intended_at, user, session, turn, body)


A2A_VERSION = ("A2A-Version", "1.0")  # the protocol version this client speaks


class A2ABuilder(_Threaded):
    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        request = self._request
        assert isinstance(request, A2ARequest)
        message: dict[str, Any] = {
            "role": "ROLE_USER",
            "messageId": f"m{seq}",
            "parts": [{"text": self._message(seq, session, turn)}],
        }
        if session is not None and session.thread_id is not None:
            message["contextId"] = session.thread_id
        body = {
            "jsonrpc": "2.0",
            "id": seq,
            "method": "SendStreamingMessage" if request.stream else "SendMessage",
            "params": {"message": message},
        }
        return self._work(seq, intended_at, user, session, turn, body, (A2A_VERSION,))
