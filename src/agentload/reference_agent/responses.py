"""Response bodies of the chat endpoint, built with the shared wire code.

A stream is ``data:`` chunks in OpenAI's order: a role-only chunk, one chunk per token, a
chunk with ``finish_reason``, a usage-only chunk (``choices: []``) when the request set
``stream_options.include_usage``, then ``data: [DONE]``. Its headers leave with the first
token, so their ``Server-Timing`` holds ``queue`` and ``prefill``; the full set (adding
``decode`` and ``total``) comes as the SSE comment ``: server-timing ...`` just before
``[DONE]`` (standard SSE clients skip comments). If the engine stops mid-stream, the stream
ends with an ``event: error`` carrying an OpenAI-style error object.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Send

from agentload.protocol.openai_chat import (
    SSE_DONE,
    Usage,
    encode_error,
    encode_stream_chunk,
    sse_frame,
)
from agentload.reference_agent.inference import Generation


class ChunkWriter:
    """One completion's identity (id, model, created) and the encoder of its chunks."""

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


async def sse_body(
    generation: Generation, meta: ChunkWriter, first: list[str], include_usage: bool
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
        frames.append(meta.chunk(usage=usage_of(generation)))
    timing = server_timing(generation.phases_ms())
    frames.append(b": server-timing " + timing.encode() + b"\n\n")
    frames.append(SSE_DONE)
    yield b"".join(frames)


class EngineStream(StreamingResponse):
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


def usage_of(generation: Generation) -> Usage:
    prompt, completion = generation.prompt_tokens, generation.generated
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def server_timing(phases_ms: Mapping[str, float]) -> str:
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in phases_ms.items())
