"""SSE decoder: the spec's examples, line-ending edge cases, and split-invariance properties.

Property tests are derandomized (the same examples every run) like the rest of the suite.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.protocol.sse import SSEDecodeError, SSEDecoder, SSEEvent

FIXED = settings(derandomize=True, database=None, deadline=None, max_examples=200)


def decode(pieces: Iterable[bytes], decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


def split_at(blob: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(blob)]
    return [blob[a:b] for a, b in itertools.pairwise(bounds)]


def one_byte_at_a_time(blob: bytes) -> list[bytes]:
    return [blob[i : i + 1] for i in range(len(blob))]


# --- examples from the WHATWG spec (section "Event stream interpretation") -----------------


def test_spec_example_comment_ids_and_leading_space() -> None:
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n"
    )
    assert decode([stream]) == [
        SSEEvent(data="first event", id="1"),
        SSEEvent(data="second event", id=""),  # a bare "id" resets the last event ID
        SSEEvent(data=" third event", id=""),  # only one space after the colon is dropped
    ]


def test_spec_example_empty_data_and_unterminated_last_block() -> None:
    decoder = SSEDecoder()
    events = decode([b"data\n\ndata\ndata\n\ndata:"], decoder)
    assert events == [SSEEvent(data=""), SSEEvent(data="\n")]
    assert decoder.has_partial_event


def test_spec_example_space_after_colon_is_optional() -> None:
    assert decode([b"data:test\n\ndata: test\n\n"]) == [SSEEvent(data="test")] * 2


# --- fields ----------------------------------------------------------------------------------


def test_comments_are_ignored_anywhere() -> None:
    stream = b":hi\ndata: a\n: keep-alive\ndata: b\n:\n\n"
    assert decode([stream]) == [SSEEvent(data="a\nb")]


def test_event_type_applies_to_one_event_and_defaults_to_message() -> None:
    stream = b"event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n"
    assert [(e.event, e.data) for e in decode([stream])] == [
        ("add", "1"),
        ("message", "2"),
        ("message", "3"),
    ]


def test_block_without_data_is_not_dispatched_and_resets_event_type() -> None:
    stream = b"event: ping\n\ndata: x\n\n"
    assert decode([stream]) == [SSEEvent(data="x")]


def test_field_without_colon_has_empty_value() -> None:
    assert decode([b"data\nevent\n\n"]) == [SSEEvent(data="")]


def test_unknown_fields_are_ignored() -> None:
    assert decode([b"foo: bar\nDATA: no\ndata: yes\n\n"]) == [SSEEvent(data="yes")]


def test_colon_inside_value_is_kept() -> None:
    assert decode([b'data: {"a": "b:c"}\n\n']) == [SSEEvent(data='{"a": "b:c"}')]


def test_id_persists_and_id_with_nul_is_ignored() -> None:
    stream = b"id: 7\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n"
    decoder = SSEDecoder()
    assert [e.id for e in decode([stream], decoder)] == ["7", "7", "7"]
    assert decoder.last_event_id == "7"


def test_id_without_data_still_sets_the_last_event_id() -> None:
    assert decode([b"id: 5\n\ndata: a\n\n"]) == [SSEEvent(data="a", id="5")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"retry: 3000", 3000),
        (b"retry:0", 0),
        (b"retry: 30s", None),
        (b"retry:", None),
        (b"retry: -1", None),
        (b"retry:  10", None),  # the second space is part of the value
        (b"retry: 1.5", None),
        ("retry: ٣".encode(), None),  # a digit, but not an ASCII one
    ],
)
def test_retry_accepts_only_ascii_digits(line: bytes, expected: int | None) -> None:
    decoder = SSEDecoder()
    assert decode([line + b"\ndata: x\n\n"], decoder) == [SSEEvent(data="x", retry_ms=expected)]
    assert decoder.retry_ms == expected


def test_retry_without_data_applies_to_later_events() -> None:
    assert decode([b"retry: 250\n\ndata: a\n\n"]) == [SSEEvent(data="a", retry_ms=250)]


# --- line endings ----------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_each_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: e", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode(one_byte_at_a_time(stream)) == [
        SSEEvent(event="e", data="a\nb"),
        SSEEvent(data="c"),
    ]


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    # Were the LF counted as a second line ending, it would be a blank line and dispatch "a".
    assert decode([b"data: a\r", b"\ndata: b\r\n\r\n"]) == [SSEEvent(data="a\nb")]
    assert decode([b"data: a\r", b"", b"\n", b"data: b\r", b"\n\r", b"\n"]) == [
        SSEEvent(data="a\nb")
    ]


def test_cr_then_lf_later_in_the_stream_are_two_line_endings() -> None:
    assert decode([b"data: a\r", b"data: b\r", b"\r"]) == [SSEEvent(data="a\nb")]
    assert decode([b"data: a\r\r", b"\n"]) == [SSEEvent(data="a")]


def test_mixed_line_endings() -> None:
    assert decode([b"data: a\r\ndata: b\rdata: c\n\r\n"]) == [SSEEvent(data="a\nb\nc")]


# --- bytes and text --------------------------------------------------------------------------


def test_multibyte_characters_split_across_chunks() -> None:
    stream = "data: héllo 🎉 世界\n\n".encode()
    assert decode(one_byte_at_a_time(stream)) == [SSEEvent(data="héllo 🎉 世界")]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert decode([b"data: a\xffb\n\n"]) == [SSEEvent(data="a\ufffdb")]


def test_leading_bom_is_stripped_once() -> None:
    bom = "\ufeff".encode()
    assert decode(one_byte_at_a_time(bom + b"data: a\n\n")) == [SSEEvent(data="a")]
    # A second BOM belongs to the field name, which is then unknown.
    assert decode([bom + bom + b"data: a\n\ndata: b\n\n"]) == [SSEEvent(data="b")]
    # A BOM after the first line is not special.
    assert decode([b"\n" + bom + b"data: a\n\n"]) == []


# --- end of stream ---------------------------------------------------------------------------


def test_clean_end_has_no_partial_event() -> None:
    decoder = SSEDecoder()
    assert decode([b"data: a\n\n: bye\n"], decoder) == [SSEEvent(data="a")]
    assert not decoder.has_partial_event
    assert decoder.pending_bytes == 0


def test_trailing_event_without_blank_line_is_discarded_but_reported() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == [SSEEvent(data="a")]
    assert decoder.close() == []
    assert decoder.has_partial_event
    assert decoder.pending_bytes == 0


def test_unterminated_last_line_is_discarded_but_reported() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [SSEEvent(data="a")]
    assert decoder.close() == []
    assert decoder.has_partial_event
    assert decoder.pending_bytes == len(b"data: b")


def test_unterminated_comment_is_not_a_partial_event() -> None:
    decoder = SSEDecoder()
    decode([b"data: a\n\n: keep-al"], decoder)
    assert not decoder.has_partial_event
    assert decoder.pending_bytes > 0


# --- line length limit -----------------------------------------------------------------------


def test_endless_line_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    decoder.feed(b"data: ")
    with pytest.raises(SSEDecodeError):
        for _ in range(100):
            decoder.feed(b"x" * 8)
    assert decoder.pending_bytes == 0  # the buffer is released


def test_long_unterminated_tail_of_a_chunk_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    with pytest.raises(SSEDecodeError):
        decoder.feed(b"data: a\n\ndata: " + b"x" * 100)


def test_limit_applies_only_to_buffered_bytes() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    long_value = "x" * 200
    assert decode([f"data: {long_value}\n\n".encode()], decoder) == [SSEEvent(data=long_value)]


def test_line_at_the_limit_is_accepted() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    line = b"data: " + b"x" * 58
    assert decode([line, b"\n\n"], decoder) == [SSEEvent(data="x" * 58)]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=0)


# --- properties ------------------------------------------------------------------------------

# Text of one line: anything UTF-8 can encode (so no lone surrogates) but CR and LF.
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)
# Emoji, accents, CJK, NUL, BOM, colons and spaces, which the parser treats specially.
tricky_text = st.lists(
    st.sampled_from(["a", " ", ":", "\0", "\ufeff", "é", "世", "🎉", "\t", "data", "x"]),
    max_size=12,
).map("".join)
any_line = st.one_of(line_text, tricky_text)


@dataclass(frozen=True)
class Block:
    """One blank-line-terminated block: an event when ``data_lines`` is not None."""

    data_lines: tuple[str, ...] | None
    event: str | None
    id: str | None
    retry_ms: int | None
    comments: tuple[str, ...]


blocks = st.builds(
    Block,
    data_lines=st.none() | st.lists(any_line, min_size=1, max_size=4).map(tuple),
    event=st.none() | any_line,
    id=st.none() | any_line.filter(lambda s: "\0" not in s),
    retry_ms=st.none() | st.integers(min_value=0, max_value=10**12),
    comments=st.lists(any_line, max_size=2).map(tuple),
)


def field_line(name: str, value: str, tight: bool) -> str:
    """``name: value``, or ``name:value`` when that reads the same, or bare ``name``."""
    if not value and tight:
        return name
    if tight and not value.startswith(" "):
        return f"{name}:{value}"
    return f"{name}: {value}"


@st.composite
def encoded_streams(draw: st.DrawFn) -> tuple[list[SSEEvent], bytes]:
    """A random stream and the events a correct decoder must produce from it."""
    lines: list[str] = []
    expected: list[SSEEvent] = []
    last_id: str | None = None
    retry: int | None = None
    for block in draw(st.lists(blocks, max_size=6)):
        fields: list[str] = [":" + c for c in block.comments]
        if block.event is not None:
            fields.append(field_line("event", block.event, draw(st.booleans())))
        if block.id is not None:
            fields.append(field_line("id", block.id, draw(st.booleans())))
            last_id = block.id
        if block.retry_ms is not None:
            fields.append(f"retry: {block.retry_ms}")
            retry = block.retry_ms
        fields = draw(st.permutations(fields))  # the order of other fields is free...
        at = 0
        for value in block.data_lines or ():  # ...but data lines keep theirs
            at = draw(st.integers(min_value=at, max_value=len(fields)))
            fields.insert(at, field_line("data", value, draw(st.booleans())))
            at += 1
        lines.extend(fields)
        lines.append("")
        if block.data_lines is not None:
            expected.append(
                SSEEvent(
                    event=block.event or "message",
                    data="\n".join(block.data_lines),
                    id=last_id,
                    retry_ms=retry,
                )
            )
    # A BOM only before some line: alone, it would be an unterminated line.
    text = draw(st.sampled_from(["", "\ufeff"])) if lines else ""
    previous_eol = ""
    for line in lines:
        choices = ["\n", "\r\n", "\r"]
        if previous_eol == "\r" and not line:
            choices.remove("\n")  # CR then an empty LF-terminated line would read as one CRLF
        eol = draw(st.sampled_from(choices))
        text += line + eol
        previous_eol = eol
    return expected, text.encode()


def cuts_for(blob: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=len(blob)), max_size=24)


@FIXED
@given(st.data())
def test_random_streams_decode_to_their_events_for_any_split(data: st.DataObject) -> None:
    expected, blob = data.draw(encoded_streams())
    cuts = data.draw(cuts_for(blob))
    decoder = SSEDecoder()
    assert decode(split_at(blob, cuts), decoder) == expected
    assert not decoder.has_partial_event
    assert decoder.pending_bytes == 0


@FIXED
@given(encoded_streams())
def test_random_streams_decode_byte_by_byte(stream: tuple[list[SSEEvent], bytes]) -> None:
    expected, blob = stream
    assert decode(one_byte_at_a_time(blob)) == expected


@FIXED
@given(encoded_streams(), st.sampled_from([b"data: cut", b"data: cut\n", b"event: x\r\n"]))
def test_truncated_stream_is_reported_as_partial(
    stream: tuple[list[SSEEvent], bytes], tail: bytes
) -> None:
    expected, blob = stream
    decoder = SSEDecoder()
    assert decode([blob, tail], decoder) == expected
    assert decoder.has_partial_event


# Bytes rich in what the parser looks at: line endings, colons, field names, split UTF-8.
noisy_bytes = st.lists(
    st.sampled_from(
        [
            *(b"\r", b"\n", b"\r\n", b":", b" ", b"\x00", b"a", b"7"),
            *(b"data", b"event", b"id", b"retry"),
            *(b"\xef\xbb\xbf", "é🎉".encode(), b"\xf0\x9f", b"\xff"),
        ]
    ),
    max_size=60,
).map(b"".join)


@FIXED
@given(st.data())
def test_any_bytes_decode_the_same_however_split(data: st.DataObject) -> None:
    blob = data.draw(noisy_bytes)
    cuts = data.draw(cuts_for(blob))
    whole, pieces = SSEDecoder(), SSEDecoder()
    assert decode(split_at(blob, cuts), pieces) == decode([blob], whole)
    assert pieces.has_partial_event == whole.has_partial_event
    assert pieces.pending_bytes == whole.pending_bytes
    assert (pieces.last_event_id, pieces.retry_ms) == (whole.last_event_id, whole.retry_ms)


def _reference_decode(blob: bytes) -> list[SSEEvent]:
    """A direct, slow transcription of the spec, to check the fast decoder against."""
    text = blob.decode("utf-8", "replace").removeprefix("\ufeff")
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            lines.append(current)
            current = ""
            if ch == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            current += ch
        i += 1
    events: list[SSEEvent] = []
    data, event_type, last_id, retry = "", "", None, None
    for line in lines:
        if line == "":
            if data:
                events.append(
                    SSEEvent(
                        event=event_type or "message", data=data[:-1], id=last_id, retry_ms=retry
                    )
                )
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


@FIXED
@given(noisy_bytes)
def test_matches_a_literal_transcription_of_the_spec(blob: bytes) -> None:
    assert decode(one_byte_at_a_time(blob)) == _reference_decode(blob)


def test_comments_are_kept_only_when_asked() -> None:
    stream = b": server-timing queue;dur=1.5\r\ndata: x\n\n:keep-alive\n"
    quiet = SSEDecoder()
    assert [e.data for e in quiet.feed(stream)] == ["x"]
    assert quiet.comments == []
    keeping = SSEDecoder(keep_comments=True)
    assert [e.data for e in keeping.feed(stream)] == ["x"]
    assert keeping.comments == ["server-timing queue;dur=1.5", "keep-alive"]
