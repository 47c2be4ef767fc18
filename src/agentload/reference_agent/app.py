"""HTTP face of the reference agent: an OpenAI-compatible chat endpoint over an engine.

Raw Starlette with pre-encoded bytes (no FastAPI validation layer) keeps the agent's own
overhead far below the simulated model's, so what a load test measures is the engine.

Every chat response carries ``Server-Timing`` (``queue``, ``prefill``, ``decode``, ``total``
in ms). A stream's headers leave with its first token, so they carry ``queue`` and
``prefill``; the full set follows as the SSE comment ``: server-timing ...`` before
``data: [DONE]`` (standard SSE clients skip comments).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from agentload.clock import NS_PER_MS
from agentload.protocol.openai_chat import (
    SSE_DONE,
    ChatCompletionRequest,
    ProtocolError,
    Usage,
    decode_request,
    encode_completion,
    encode_error,
    encode_stream_chunk,
    sse_frame,
)
from agentload.reference_agent.engine import SimulatedEngine
from agentload.reference_agent.inference import Generation, GenerationRequest, InferenceEngine
from agentload.reference_agent.text import estimate_prompt_tokens, prompt_fingerprint

_JSON = "application/json"
_HEALTHY = msgspec.json.encode({"status": "ok"})


def create_app(engine: InferenceEngine | None = None) -> Starlette:
    """The ASGI app; the engine starts and stops with the app's lifespan."""
    engine = engine if engine is not None else SimulatedEngine()
    handlers = _ChatHandlers(engine)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.aclose()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", handlers.chat, methods=["POST"]),
            Route("/v1/models", handlers.models, methods=["GET"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.engine = engine  # for a later /metrics endpoint
    return app


class _ChatHandlers:
    def __init__(self, engine: InferenceEngine) -> None:
        self._engine = engine
        self._models_body = msgspec.json.encode(
            {
                "object": "list",
                "data": [{"id": engine.model_name, "object": "model", "created": 0,
                          "owned_by": "agentload"}],
            }
        )  # fmt: skip

    async def models(self, _request: Request) -> Response:
        return Response(self._models_body, media_type=_JSON)

    async def chat(self, request: Request) -> Response:
        received_ns = time.monotonic_ns()
        try:
            chat = _validated(decode_request(await request.body()))
        except ProtocolError as exc:
            return _error(400, str(exc), "invalid_request_error", received_ns)
        seed = chat.seed if chat.seed is not None else prompt_fingerprint(chat.messages)
        generation = self._engine.submit(
            GenerationRequest(
                prompt_tokens=estimate_prompt_tokens(chat.messages),
                max_tokens=chat.output_limit,
                seed=seed,
            )
        )
        try:
            # Headers wait for the first token so that they can carry queue and prefill.
            first = await generation.next_tokens()
        except BaseException:
            self._engine.cancel(generation)
            raise
        if generation.error is not None:
            return _error(503, generation.error, "server_error", received_ns)
        meta = _Meta(f"chatcmpl-{secrets.token_hex(12)}", self._engine.model_name)
        if chat.stream:
            include_usage = chat.stream_options is not None and chat.stream_options.include_usage
            return _EngineStream(
                _sse(generation, meta, first, include_usage),
                release=lambda: self._engine.cancel(generation),
                headers={"Server-Timing": _server_timing(generation.phases_ms())},
            )
        return await self._complete(generation, meta, first)

    async def _complete(self, generation: Generation, meta: _Meta, first: list[str]) -> Response:
        parts = first
        try:
            while tokens := await generation.next_tokens():
                parts.extend(tokens)
        finally:
            self._engine.cancel(generation)
        if generation.error is not None:
            return _error(503, generation.error, "server_error", generation.arrived_ns)
        body = encode_completion(
            completion_id=meta.completion_id,
            model=meta.model,
            created=meta.created,
            content="".join(parts),
            finish_reason=generation.finish_reason,
            usage=_usage(generation),
        )
        timing = _server_timing(generation.phases_ms())
        return Response(body, media_type=_JSON, headers={"Server-Timing": timing})


class _Meta:
    __slots__ = ("completion_id", "created", "model")

    def __init__(self, completion_id: str, model: str) -> None:
        self.completion_id = completion_id
        self.model = model
        self.created = int(time.time())

    def chunk(
        self,
        *,
        content: str | None = None,
        role: str | None = None,
        finish_reason: str | None = None,
        usage: Usage | None = None,
    ) -> bytes:
        payload = encode_stream_chunk(
            completion_id=self.completion_id,
            model=self.model,
            created=self.created,
            content=content,
            role=role,
            finish_reason=finish_reason,
            usage=usage,
        )
        return sse_frame(payload)


async def _sse(
    generation: Generation, meta: _Meta, first: list[str], include_usage: bool
) -> AsyncIterator[bytes]:
    frames = [meta.chunk(role="assistant")]
    tokens = first
    while tokens:
        frames.extend(meta.chunk(content=token) for token in tokens)
        yield b"".join(frames)
        frames = []
        tokens = await generation.next_tokens()
    if generation.error is not None:
        yield b"event: error\ndata: " + encode_error(generation.error, "server_error") + b"\n\n"
        return
    frames.append(meta.chunk(finish_reason=generation.finish_reason))
    if include_usage:
        frames.append(meta.chunk(usage=_usage(generation)))
    timing = _server_timing(generation.phases_ms())
    frames.append(b": server-timing " + timing.encode() + b"\n\n")
    frames.append(SSE_DONE)
    yield b"".join(frames)


class _EngineStream(StreamingResponse):
    """An SSE response that releases its generation however the stream ends."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        release: Callable[[], None],
        headers: Mapping[str, str],
    ) -> None:
        headers = {"Cache-Control": "no-cache", **headers}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._release = release

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            self._release()  # a client that hung up must not keep a batch slot


def _validated(chat: ChatCompletionRequest) -> ChatCompletionRequest:
    if not chat.messages:
        raise ProtocolError("messages must not be empty")
    limit = chat.output_limit
    if limit is not None and limit < 1:
        raise ProtocolError(f"max_tokens must be at least 1, got {limit}")
    return chat


def _usage(generation: Generation) -> Usage:
    prompt, completion = generation.prompt_tokens, generation.generated
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _server_timing(phases_ms: Mapping[str, float]) -> str:
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in phases_ms.items())


def _error(status: int, message: str, error_type: str, since_ns: int) -> Response:
    elapsed_ms = (time.monotonic_ns() - since_ns) / NS_PER_MS
    return Response(
        encode_error(message, error_type),
        status_code=status,
        media_type=_JSON,
        headers={"Server-Timing": f"total;dur={elapsed_ms:.3f}"},
    )


async def _healthz(_request: Request) -> Response:
    return Response(_HEALTHY, media_type=_JSON)


async def _http_error(_request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return Response(encode_error(str(detail), "invalid_request_error"), status, media_type=_JSON)
