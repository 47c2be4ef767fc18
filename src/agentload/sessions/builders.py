"""Turn a scenario's request section into request bodies, deterministically from the seed.

Bodies are built when a request comes due (never all up front), so a long run holds no
plan in memory. A synthetic prompt starts with the request number so that no two prompts
share a prefix a server could cache.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np

from agentload.config.models import (
    AgentSessionRequest,
    AgentTaskRequest,
    ChatRequest,
    HttpRequest,
)
from agentload.protocol.openai_chat import (
    ChatCompletionRequest,
    ChatMessage,
    StreamOptions,
    encode_request,
)
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work

_VOCABULARY = [
    "agent",
    "tool",
    "memory",
    "plan",
    "search",
    "answer",
    "context",
    "user",
    "query",
    "result",
    "model",
    "token",
    "stream",
    "latency",
    "budget",
    "session",
    "order",
    "payment",
    "login",
    "product",
    "review",
    "summary",
    "detail",
    "reason",
    "step",
    "check",
    "value",
    "table",
    "index",
    "cache",
    "store",
    "queue",
    "batch",
    "prompt",
    "reply",
    "thread",
    "window",
    "signal",
]


class RequestBuilder(Protocol):
    action: str

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work: ...


class ChatBuilder:
    """Chat-completion bodies: fixed messages, or a synthetic prompt of about N tokens."""

    action = "chat"

    def __init__(self, request: ChatRequest, seed: int) -> None:
        self._request = request
        self._path = request.path
        if request.messages is not None:
            self._messages = [ChatMessage(role=m.role, content=m.content) for m in request.messages]
            self._synthetic: str | None = None
            self._tokens_est = sum(max(1, len(m.content) // 4) for m in request.messages)
        else:
            assert request.prompt_tokens is not None
            rng = np.random.default_rng(seed)
            # One word ≈ one token for these short English words; the request-number prefix
            # adds ~3 more.
            words = rng.choice(_VOCABULARY, size=max(1, request.prompt_tokens - 3))
            self._synthetic = " ".join(str(w) for w in words)
            self._messages = []
            self._tokens_est = request.prompt_tokens

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        messages = self._messages
        if self._synthetic is not None:
            messages = [ChatMessage(role="user", content=f"request {seq}: {self._synthetic}")]
        tokens_est = self._tokens_est
        if session is not None:
            # Client-side context: the whole conversation so far, then this turn's message,
            # so input tokens grow turn by turn as they do for a real chat client. The
            # client appends the answer when it arrives.
            if session.history:
                new = [m for m in messages if m.role == "user"][-1:] or messages[-1:]
                tokens_est += sum(max(1, len(m.content or "") // 4) for m in session.history)
                messages = [*session.history, *new]
                session.history.extend(new)
            else:
                session.history.extend(messages)
        body = ChatCompletionRequest(
            model=self._request.model,
            messages=messages,
            max_tokens=self._request.max_tokens,
            stream=self._request.stream,
            stream_options=StreamOptions(include_usage=True) if self._request.stream else None,
        )
        return Work(
            seq=seq,
            intended_at=intended_at,
            action=self.action,
            method="POST",
            path=self._path,
            body=encode_request(body, self._request.extra_body or None),
            user=user,
            input_tokens_est=tokens_est,
            session=session,
            turn=turn,
        )


class HttpBuilder:
    """Any HTTP call; the text ``{{seq}}`` in the path or body becomes the request number."""

    action = "http"

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._body_template = None if request.body is None else _to_json(request.body)
        self._templated_path = "{{seq}}" in request.path
        self._templated_body = self._body_template is not None and "{{seq}}" in self._body_template

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        path = (
            self._request.path.replace("{{seq}}", str(seq))
            if self._templated_path
            else (self._request.path)
        )
        body: bytes | None = None
        if self._body_template is not None:
            text = self._body_template
            if self._templated_body:
                text = text.replace("{{seq}}", str(seq))
            body = text.encode()
        return Work(
            seq=seq,
            intended_at=intended_at,
            action=self.action,
            method=self._request.method,
            path=path,
            body=body,
            user=user,
            session=session,
            turn=turn,
        )


def _to_json(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class AgentSessionBuilder:
    """Bodies for an agent's session API (one user message per turn; the agent keeps the
    history server-side) or its task API (one message per job)."""

    action = "turn"

    def __init__(self, request: AgentSessionRequest | AgentTaskRequest, seed: int) -> None:
        self._is_task = isinstance(request, AgentTaskRequest)
        self.action = "task" if self._is_task else "turn"
        self._request = request
        if request.content is not None:
            self._text = request.content
        else:
            assert request.prompt_tokens is not None
            rng = np.random.default_rng(seed)
            words = rng.choice(_VOCABULARY, size=max(1, request.prompt_tokens - 3))
            self._text = " ".join(str(w) for w in words)
        self._tokens_est = request.prompt_tokens or max(1, len(self._text) // 4)

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        content = self._text if self._request.content is not None else f"turn {seq}: {self._text}"
        body: dict[str, Any] = {"content": content, "max_tokens": self._request.max_tokens}
        if isinstance(self._request, AgentSessionRequest):
            body["stream"] = self._request.stream
        if self._request.tools is not None:
            body["tools"] = list(self._request.tools)
        return Work(
            seq=seq,
            intended_at=intended_at,
            action=self.action,
            method="POST",
            path=self._request.path,  # the client adds /{id}/messages once it has an id
            body=_to_json(body).encode(),
            user=user,
            input_tokens_est=self._tokens_est,
            session=session
            if session is not None or self._is_task
            else SessionState(session_id=f"r{seq}"),
            turn=turn,
        )


def builder_for(
    request: ChatRequest | HttpRequest | AgentSessionRequest | AgentTaskRequest, seed: int
) -> RequestBuilder:
    if isinstance(request, ChatRequest):
        return ChatBuilder(request, seed)
    if isinstance(request, AgentSessionRequest | AgentTaskRequest):
        return AgentSessionBuilder(request, seed)
    return HttpBuilder(request)
