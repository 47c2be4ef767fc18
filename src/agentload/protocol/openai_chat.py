"""Wire format of OpenAI-compatible chat completions, shared by the client and the agent.

Sans-I/O: bytes in, typed values out, and the reverse. Unknown fields are accepted (servers
add their own), missing optional ones default, and anything malformed raises
``ProtocolError`` with a short reason — the client turns that into ``protocol_error``.
"""

from __future__ import annotations

from typing import Any

import msgspec

SSE_DONE = b"data: [DONE]\n\n"


class ProtocolError(ValueError):
    """A peer sent bytes that do not follow the chat-completions wire format."""


# Without omit_defaults: OpenAI clients expect "type" and "arguments" even at their defaults.
class FunctionCall(msgspec.Struct):
    """A function the model asks to call; ``arguments`` is JSON text, as OpenAI sends it."""

    name: str
    arguments: str = "{}"


class ToolCallRef(msgspec.Struct):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    function: FunctionCall
    type: str = "function"


class FunctionSpec(msgspec.Struct, omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # JSON Schema of the arguments


class ToolSpec(msgspec.Struct):
    """One entry of a request's ``tools``."""

    function: FunctionSpec
    type: str = "function"


class ChatMessage(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCallRef] | None = None  # assistant: the calls it made
    tool_call_id: str | None = None  # role "tool": which call this result answers


class StreamOptions(msgspec.Struct, omit_defaults=True):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    seed: int | None = None
    tools: list[ToolSpec] | None = None
    # "none", "auto", "required", or {"type": "function", "function": {"name": ...}}
    tool_choice: str | dict[str, Any] | None = None

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens else self.max_tokens


# gc=False on the decoded types below: they hold only text, numbers and each other (no
# cycles, so the collector has nothing to find in them), and a stream decodes them once per
# chunk: untracked, parse_stream_chunk costs ~475 ns instead of ~560.
class Usage(msgspec.Struct, gc=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class _Delta(msgspec.Struct, gc=False):
    content: str | None = None
    role: str | None = None


class _StreamChoice(msgspec.Struct, gc=False):
    index: int = 0
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _ErrorBody(msgspec.Struct, gc=False):
    message: str = ""
    type: str | None = None


class _StreamChunk(msgspec.Struct, gc=False):
    choices: list[_StreamChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    error: _ErrorBody | None = None


class _Message(msgspec.Struct, gc=False):
    role: str = "assistant"
    content: str | None = None


class _Choice(msgspec.Struct, gc=False):
    index: int = 0
    message: _Message = msgspec.field(default_factory=_Message)
    finish_reason: str | None = None


class _Completion(msgspec.Struct, gc=False):
    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    error: _ErrorBody | None = None


class ChunkInfo(msgspec.Struct, frozen=True, gc=False):
    """What the load side needs from one streamed chunk."""

    content: str  # "" for role-only or usage-only chunks
    finish_reason: str | None
    usage: Usage | None


class CompletionInfo(msgspec.Struct, frozen=True, gc=False):
    content: str
    finish_reason: str | None
    usage: Usage | None


_chunk_decoder = msgspec.json.Decoder(_StreamChunk)
_completion_decoder = msgspec.json.Decoder(_Completion)
_request_decoder = msgspec.json.Decoder(ChatCompletionRequest)
_encoder = msgspec.json.Encoder()


def encode_request(
    request: ChatCompletionRequest, extra_body: dict[str, Any] | None = None
) -> bytes:
    if not extra_body:
        return _encoder.encode(request)
    merged = msgspec.to_builtins(request)
    merged.update(extra_body)
    return _encoder.encode(merged)


def decode_request(body: bytes) -> ChatCompletionRequest:
    try:
        return _request_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid chat request: {exc}") from None


def parse_stream_chunk(payload: bytes | str) -> ChunkInfo:
    """One ``data:`` payload of a streamed response (not ``[DONE]``)."""
    try:
        chunk = _chunk_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid stream chunk: {exc}") from None
    if chunk.error is not None:
        raise ProtocolError(f"error in stream: {chunk.error.message or chunk.error.type}")
    content = ""
    finish_reason = None
    for choice in chunk.choices:
        if choice.delta.content:
            content += choice.delta.content
        if choice.finish_reason is not None:
            finish_reason = choice.finish_reason
    return ChunkInfo(content=content, finish_reason=finish_reason, usage=chunk.usage)


def parse_completion(body: bytes) -> CompletionInfo:
    """A non-streamed response body; an error object in a 200 is a protocol error."""
    try:
        completion = _completion_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid completion: {exc}") from None
    if completion.error is not None:
        raise ProtocolError(f"error object: {completion.error.message or completion.error.type}")
    if not completion.choices:
        raise ProtocolError("completion has no choices")
    choice = completion.choices[0]
    return CompletionInfo(
        content=choice.message.content or "",
        finish_reason=choice.finish_reason,
        usage=completion.usage,
    )


# --- server side ---------------------------------------------------------------------------


def sse_frame(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def encode_stream_chunk(
    *,
    completion_id: str,
    model: str,
    created: int,
    content: str | None = None,
    role: str | None = None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
    tool_calls: list[ToolCallRef] | None = None,
) -> bytes:
    """The JSON payload of one ``chat.completion.chunk``; wrap it with ``sse_frame``.

    ``tool_calls`` go whole in one chunk (OpenAI may spread the arguments over several
    chunks; clients accumulate either form)."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if tool_calls:
        delta["tool_calls"] = [
            {"index": i, "id": c.id, "type": c.type, "function": c.function}
            for i, c in enumerate(tool_calls)
        ]
    choices = (
        [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        if delta or finish_reason is not None
        else []
    )
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return _encoder.encode(chunk)


def encode_completion(
    *,
    completion_id: str,
    model: str,
    created: int,
    content: str,
    finish_reason: str,
    usage: Usage,
    tool_calls: list[ToolCallRef] | None = None,
) -> bytes:
    """A whole ``chat.completion``; with ``tool_calls``, ``content`` may be ""
    (sent as null, as OpenAI does)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["content"] = content or None
        message["tool_calls"] = tool_calls
    return _encoder.encode(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage,
        }
    )


def encode_error(message: str, error_type: str, code: str | None = None) -> bytes:
    return _encoder.encode({"error": {"message": message, "type": error_type, "code": code}})
