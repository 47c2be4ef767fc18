"""The official ``openai`` client against the reference agent: sync, async, streaming, tools."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

pytestmark = pytest.mark.timeout(60)

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
ASK = [{"role": "user", "content": "Please search for the weather in Paris."}]


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=20)


def test_models_and_a_plain_completion(fast_agent: str) -> None:
    api = client(fast_agent)
    assert [m.id for m in api.models.list()] == ["agentload-sim-0.9b"]
    reply = api.chat.completions.create(
        model="agentload-sim-0.9b",
        messages=[{"role": "user", "content": "Say something."}],
        max_tokens=7,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "length" and choice.message.role == "assistant"
    assert choice.message.content and len(choice.message.content.split()) >= 7
    assert reply.usage is not None and reply.usage.completion_tokens == 7


def test_streaming_with_usage(fast_agent: str) -> None:
    stream = client(fast_agent).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Stream a few words."}],
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length" and len(text.split()) >= 6
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6


def test_tool_call_round_trip(fast_agent: str) -> None:
    api = client(fast_agent)
    first = api.chat.completions.create(model="m", messages=ASK, tools=TOOLS, max_tokens=8)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "search"  # type: ignore[union-attr]
    assert "Paris" in call.function.arguments  # type: ignore[union-attr]
    history: list[Any] = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny and 21 degrees."},
    ]
    second = api.chat.completions.create(model="m", messages=history, tools=TOOLS, max_tokens=8)
    answer = second.choices[0]
    assert answer.finish_reason in ("stop", "length") and not answer.message.tool_calls
    assert "Sunny" in (answer.message.content or "")  # it answers from the tool result


def test_streamed_tool_calls(fast_agent: str) -> None:
    stream = client(fast_agent).chat.completions.create(
        model="m", messages=ASK, tools=TOOLS, max_tokens=8, stream=True
    )
    deltas = [c.choices[0] for c in stream if c.choices]
    calls = [tc for d in deltas for tc in d.delta.tool_calls or ()]
    assert deltas[-1].finish_reason == "tool_calls"
    assert len(calls) == 1 and calls[0].index == 0 and calls[0].id
    assert calls[0].function is not None and calls[0].function.name == "search"


def test_tool_choice_none_answers_directly(fast_agent: str) -> None:
    reply = client(fast_agent).chat.completions.create(
        model="m", messages=ASK, tools=TOOLS, tool_choice="none", max_tokens=5
    )
    assert reply.choices[0].finish_reason == "length" and not reply.choices[0].message.tool_calls


def test_async_client_concurrently(fast_agent: str) -> None:
    async def main() -> list[str]:
        api = openai.AsyncOpenAI(base_url=f"{fast_agent}/v1", api_key="unused", max_retries=0)
        async with api:

            async def one(i: int) -> str:
                stream = await api.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": f"Request {i}"}],
                    max_tokens=5,
                    stream=True,
                )
                parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
                return "".join(parts)

            plain = await api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=3
            )
            assert plain.usage is not None and plain.usage.completion_tokens == 3
            return await asyncio.gather(*(one(i) for i in range(8)))

    texts = asyncio.run(main())
    assert len(texts) == 8 and all(len(t.split()) >= 5 for t in texts)


def test_bad_request_is_an_openai_error(fast_agent: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(fast_agent).chat.completions.create(model="m", messages=[], max_tokens=3)
    assert caught.value.status_code == 400
