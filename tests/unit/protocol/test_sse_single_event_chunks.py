"""Chunks holding exactly one ``data:`` event (the streamed-answer case) decode as any split."""

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.protocol.sse import SSEDecoder

line_text = st.text(
    st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=30
)
block = st.one_of(
    line_text.map(lambda t: f"data: {t}\n\n"),  # the shape the fast path takes
    line_text.map(lambda t: f"data:{t}\n\n"),
    st.tuples(line_text, line_text).map(lambda p: f"event: {p[0]}\ndata: {p[1]}\n\n"),
    line_text.map(lambda t: f"id: {t}\ndata: x\n\n"),
    line_text.map(lambda t: f": {t}\n"),  # a comment
    line_text.map(lambda t: f"data: {t}\r\n\r\n"),
    line_text.map(lambda t: f"data: {t}\n"),  # an event continued by the next block
)


def _decode(chunks: list[bytes]) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    decoder = SSEDecoder(keep_comments=True)
    events = [(e.event, e.data, e.id) for chunk in chunks for e in decoder.feed(chunk)]
    return events, decoder.comments


@settings(deadline=None, max_examples=300)
@given(st.lists(block, max_size=12), st.data())
def test_one_chunk_per_block_equals_one_byte_at_a_time_and_random_splits(
    blocks: list[str], data: st.DataObject
) -> None:
    stream = "".join(blocks).encode()
    per_block = _decode([b.encode() for b in blocks])
    per_byte = _decode([stream[i : i + 1] for i in range(len(stream))])
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=6)))
    bounds = [0, *cuts, len(stream)]
    random_split = _decode([stream[a:b] for a, b in pairwise(bounds)])
    assert per_block == per_byte == random_split


def test_a_bom_first_chunk_and_multibyte_text_decode_alike() -> None:
    chunks = ["\ufeffdata: a\n\n".encode(), "data: héllo 🙂\n\n".encode(), b"data: [DONE]\n\n"]
    assert _decode(chunks)[0] == [
        ("message", "a", None),
        ("message", "héllo 🙂", None),
        ("message", "[DONE]", None),
    ]
