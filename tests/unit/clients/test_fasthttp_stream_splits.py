"""A streamed chat answer read by the fast transport's consume path (the streaming hot path:
SSE decoded and timed inside the connection's callback) over arbitrary HTTP chunk sizes and
socket reads: the same tokens, usage and answer come out, and every token is stamped with the
time of the read that delivered its last byte, never later."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.clients.fasthttp.connection import Connection
from agentload.clients.openai_chat import _Stream
from agentload.clock import ManualClock
from agentload.protocol.sse import SSEDecoder
from agentload.records.record import Timing


class _Socket(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
TOKENS = st.lists(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6), max_size=25
)


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _answer(tokens: list[str]) -> tuple[bytes, list[int]]:
    """The SSE body, and the offset in it of the last byte of each content event."""
    delta = {"role": "assistant"}
    events = [_event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})]
    for token in tokens:
        choice = {"index": 0, "delta": {"content": token}, "finish_reason": None}
        events.append(_event({"choices": [choice]}))
    usage = {"prompt_tokens": 3, "completion_tokens": len(tokens), "total_tokens": 3 + len(tokens)}
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
    events += [_event(finish), b"data: [DONE]\n\n"]
    ends, offset = [], 0
    for i, event in enumerate(events):
        offset += len(event)
        if 1 <= i <= len(tokens):
            ends.append(offset - 1)
    return b"".join(events), ends


def _chunked(body: bytes, sizes: list[int]) -> tuple[bytes, list[int]]:
    """HTTP chunked framing with chunk sizes from ``sizes``; maps body offsets to wire ones."""
    wire, where, i, k = bytearray(HEAD), [], 0, 0
    while i < len(body):
        size = sizes[k % len(sizes)] if sizes else len(body)
        k += 1
        piece = body[i : i + size]
        wire += b"%x\r\n" % len(piece)
        where += range(len(wire), len(wire) + len(piece))
        wire += piece + b"\r\n"
        i += len(piece)
    return bytes(wire + b"0\r\n\r\n"), where


@settings(max_examples=200, deadline=None)
@given(
    tokens=TOKENS,
    sizes=st.lists(st.integers(min_value=1, max_value=300), max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=40),
)
def test_tokens_usage_and_arrival_times_survive_any_split(
    tokens: list[str], sizes: list[int], cuts: list[int]
) -> None:
    body, ends = _answer(tokens)
    wire, where = _chunked(body, sizes)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {len(wire)})

    async def main() -> tuple[_Stream, Timing, list[int], int]:
        clock = ManualClock(start_ns=1_000)
        conn = Connection()
        conn.connection_made(_Socket())
        head = conn.send(b"POST / HTTP/1.1\r\n\r\n")
        timing = Timing()
        stream = _Stream(timing, clock, 1 << 30, keep_answer=True)
        read_at: list[int] = []  # the clock at the read that delivered each wire byte
        last, consume_at = 0, None
        for point in points:
            if point == last:
                continue
            clock.advance(1_000)
            conn.data_received(wire[last:point])
            read_at += [clock.now_ns()] * (point - last)
            last = point
            if consume_at is None and head.done():
                response = await head
                consume_at = clock.now_ns()
                response.content.consume(stream.feed)
        assert consume_at is not None
        return stream, timing, read_at, consume_at

    stream, timing, read_at, consume_at = asyncio.run(main())
    assert stream.saw_done and stream.finished
    assert stream.chunks == len(tokens)
    assert "".join(stream.answer or []) == "".join(tokens)
    assert stream.usage is not None and stream.usage.completion_tokens == len(tokens)
    # Bytes that came with the head wait until the reader takes the response; from then on
    # each token is timed by the read that completed it.
    stamps = [max(read_at[where[end]], consume_at) for end in ends]
    assert timing.first_token_at == (stamps[0] if stamps else None)
    assert stream.gaps_ms == [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]


BLOCKS = st.one_of(
    st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=20).map(
        lambda t: f"data: {t}\n\n"
    ),
    st.just("event: ping\ndata: p\n\n"),
    st.just("id: 7\nretry: 30\n\n"),
    st.just(": keep-alive\n"),
    st.just("data: a\r\n\r\n"),
    st.just("data: one\ndata: two\n\n"),
    st.just("data: cut"),
    st.just("\n\n"),
)


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(BLOCKS, max_size=15), cuts=st.lists(st.integers(0, 2_000), max_size=10))
def test_single_data_or_feed_gives_what_byte_at_a_time_gives(
    blocks: list[str], cuts: list[int]
) -> None:
    stream = "".join(blocks).encode()
    points = sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise([0, *points]) if b > a]
    pieces += [b.encode() for b in blocks]  # and one piece per block, the common shape
    fast, fast_ids = SSEDecoder(), []
    for piece in pieces:
        data = fast.single_data(piece)
        if data is not None:
            fast_ids.append(("message", data, fast.last_event_id))
        else:
            fast_ids += [(e.event, e.data, e.id) for e in fast.feed(piece)]
    slow = SSEDecoder()
    whole = stream + b"".join(b.encode() for b in blocks)
    expected = [
        (e.event, e.data, e.id) for i in range(len(whole)) for e in slow.feed(whole[i : i + 1])
    ]
    assert fast_ids == expected
    assert (fast.pending_bytes, fast.has_partial_event) == (
        slow.pending_bytes,
        slow.has_partial_event,
    )
