"""Turn a scenario's request section into request bodies, deterministically from the seed.

Bodies are built when a request comes due (never all up front), so a long run holds no
plan in memory. A synthetic prompt starts with the request number so that no two prompts
share a prefix a server could cache.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from agentload.sessions.datasets import Conversation, pick
from agentload.sessions.distributions import count_sampler
from agentload.sessions.nonce import turn_text
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
    """Chat-completion bodies: fixed messages, a synthetic prompt of about N tokens (fixed or
    drawn per request), or the user turns of a dataset's conversations (one per session)."""

    action = "chat"

    def __init__(
        self,
        request: ChatRequest,
        seed: int,
        *,
        system_prompt: str | None = None,
        conversations: Sequence[Conversation] = (),
    ) -> None:
        self._request = request
        self._path = request.path
        self._seed = seed
        self._system = [ChatMessage(role="system", content=system_prompt)] if system_prompt else []
        self._input_tokens = (
            None if request.input_tokens is None else count_sampler(request.input_tokens)
        )
        self._output_tokens = (
            None if request.output_tokens is None else count_sampler(request.output_tokens)
        )
        self._conversations = conversations
        if request.dataset is not None and not conversations:
            raise ValueError(f"request.dataset {request.dataset}: no conversations were loaded")
        self._synthetic: str | None = None
        self._messages: list[ChatMessage] = []
        self._tokens_est = 0
        if request.messages is not None:
            self._messages = [ChatMessage(role=m.role, content=m.content) for m in request.messages]
            self._tokens_est = sum(max(1, len(m.content) // 4) for m in request.messages)
        elif request.prompt_tokens is not None:
            # One word ≈ one token for these short English words; the request-number prefix
            # adds ~3 more.
            self._synthetic = synthetic_text(seed, request.prompt_tokens - 3)
            self._tokens_est = request.prompt_tokens
        self._system_tokens = sum(max(1, len(m.content or "") // 4) for m in self._system)

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        messages, tokens_est = self._turn_messages(seq, session, turn)
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
                messages = [*self._system, *messages]
                session.history.extend(messages)
                tokens_est += self._system_tokens
        elif self._system:
            messages = [*self._system, *messages]
            tokens_est += self._system_tokens
        max_tokens = self._request.max_tokens
        if self._output_tokens is not None:
            max_tokens = self._output_tokens(np.random.default_rng([self._seed, seq, 5]))
        body = ChatCompletionRequest(
            model=self._request.model,
            messages=messages,
            max_tokens=max_tokens,
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
            sla_ms=sla_ms(self._request.sla),
        )

    def _turn_messages(
        self, seq: int, session: SessionState | None, turn: int
    ) -> tuple[list[ChatMessage], int]:
        """This turn's own messages (before any history) and their estimated tokens."""
        if self._messages:
            messages = self._messages
            if session is not None and session.context_check is not None:
                last = messages[-1]
                text = turn_text(session, turn, last.content or "")
                messages = [*messages[:-1], ChatMessage(role=last.role, content=text)]
            return messages, self._tokens_est
        if self._conversations:
            key = seq if session is None else session.index
            conversation = pick(self._conversations, self._seed, key)
            text = conversation.user_turns[turn % len(conversation.user_turns)]
            tokens = max(1, len(text) // 4)
        elif self._synthetic is not None:
            text = f"request {seq}: {self._synthetic}"
            tokens = self._tokens_est
        else:
            assert self._input_tokens is not None
            tokens = self._input_tokens(np.random.default_rng([self._seed, seq, 3]))
            text = f"request {seq}: {synthetic_text(self._seed + seq, tokens - 3)}"
        planted = turn_text(session, turn, text)
        if planted != text:
            tokens += max(0, (len(planted) - len(text)) // 4)
        return [ChatMessage(role="user", content=planted)], tokens


def synthetic_text(seed: int, words: int) -> str:
    """About ``words`` tokens of plain words, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return " ".join(str(w) for w in rng.choice(_VOCABULARY, size=max(1, words)))


def sla_ms(sla_s: float | None) -> float | None:
    return None if sla_s is None else sla_s * 1000


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
            sla_ms=sla_ms(self._request.sla),
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
        content = turn_text(session, turn, content)
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
            sla_ms=sla_ms(self._request.sla),
        )


def builder_for(
    request: ChatRequest | HttpRequest | AgentSessionRequest | AgentTaskRequest, seed: int
) -> RequestBuilder:
    if isinstance(request, ChatRequest):
        return ChatBuilder(request, seed)
    if isinstance(request, AgentSessionRequest | AgentTaskRequest):
        return AgentSessionBuilder(request, seed)
    return HttpBuilder(request)
