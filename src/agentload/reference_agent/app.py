"""HTTP face of the reference agent: an OpenAI-compatible chat endpoint over an engine.

Raw Starlette with pre-encoded bytes (no FastAPI validation layer) keeps the agent's own
overhead far below the simulated model's, so what a load test measures is the engine.

Every chat response carries ``Server-Timing`` (``queue``, ``prefill``, ``decode``, ``total``
in ms); see ``responses`` for how a stream carries it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentload.clock import NS_PER_MS
from agentload.protocol.openai_chat import (
    ChatCompletionRequest,
    ProtocolError,
    decode_request,
    encode_completion,
    encode_error,
)
from agentload.reference_agent.engine import SimulatedEngine
from agentload.reference_agent.inference import Generation, GenerationRequest, InferenceEngine
from agentload.reference_agent.responses import (
    ChunkWriter,
    EngineStream,
    server_timing,
    sse_body,
    usage_of,
)
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
        # Until a response starts, only this watcher reads the connection (a stream's
        # response watches it itself); a client that gives up frees its batch slot.
        watcher = asyncio.create_task(self._cancel_on_disconnect(request, generation))
        try:
            # Headers wait for the first token so that they can carry queue and prefill.
            first = await generation.next_tokens()
            if generation.error is not None:
                return _error(503, generation.error, "server_error", received_ns)
            meta = ChunkWriter(f"chatcmpl-{secrets.token_hex(12)}", self._engine.model_name)
            if not chat.stream:
                return await self._complete(generation, meta, first)
        except BaseException:
            self._engine.cancel(generation)
            raise
        finally:
            watcher.cancel()
            await asyncio.wait([watcher])
        include_usage = chat.stream_options is not None and chat.stream_options.include_usage
        return EngineStream(
            sse_body(generation, meta, first, include_usage),
            release=lambda: self._engine.cancel(generation),
            headers={"Server-Timing": server_timing(generation.phases_ms())},
        )

    async def _cancel_on_disconnect(self, request: Request, generation: Generation) -> None:
        # The body has been read, so the next ASGI message can only be the hang-up.
        while (await request.receive())["type"] != "http.disconnect":
            pass
        self._engine.cancel(generation)

    async def _complete(
        self, generation: Generation, meta: ChunkWriter, first: list[str]
    ) -> Response:
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
            usage=usage_of(generation),
        )
        timing = server_timing(generation.phases_ms())
        return Response(body, media_type=_JSON, headers={"Server-Timing": timing})


def _validated(chat: ChatCompletionRequest) -> ChatCompletionRequest:
    if not chat.messages:
        raise ProtocolError("messages must not be empty")
    limit = chat.output_limit
    if limit is not None and limit < 1:
        raise ProtocolError(f"max_tokens must be at least 1, got {limit}")
    return chat


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
