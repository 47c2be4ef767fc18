"""``metrics.hdr_format`` against hdrh, the reference it replaces in the core install: the same
bucket arithmetic, byte-identical blobs, and hdrh's blobs decoded to the same counts."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.metrics import hdr_format
from agentload.metrics.hdr_format import HdrLayout

OURS = HdrLayout(1, 3_600_000_000, 3)
_DEFLATED = zlib.compress(b"short")
SHORT = b"\x1c\x84\x93\x14" + len(_DEFLATED).to_bytes(4, "big") + _DEFLATED


def blob_of(payload: bytes, payload_len: int | None = None, layout: HdrLayout | None = None) -> str:
    """A well-formed V2 blob around ``payload`` (its header may claim another length)."""
    layout = layout or HdrLayout(1, 3_600_000_000, 3)
    header = hdr_format._HEADER.pack(
        hdr_format._ENCODING_COOKIE, len(payload) if payload_len is None else payload_len, 0,
        layout.digits, layout.lowest, layout.highest, 1.0,
    )  # fmt: skip
    deflated = zlib.compress(header + payload)
    outer = hdr_format._OUTER.pack(hdr_format._COMPRESSED_COOKIE, len(deflated))
    return base64.b64encode(outer + deflated).decode()


LAYOUTS = [(1, 3_600_000_000, 3), (1, 2, 3), (1, 10_000, 2), (1000, 10**9, 3), (3, 10**6, 5),
           (1, 2**62, 1)]  # fmt: skip


@pytest.mark.parametrize(("lowest", "highest", "digits"), LAYOUTS)
def test_the_layout_is_hdrh_s(lowest: int, highest: int, digits: int) -> None:
    ours, theirs = HdrLayout(lowest, highest, digits), HdrHistogram(lowest, highest, digits)
    assert ours.counts_len == theirs.counts_len
    assert ours.unit_magnitude == theirs.unit_magnitude
    assert ours.half_count_magnitude == theirs.sub_bucket_half_count_magnitude
    rng = np.random.default_rng(lowest + digits)
    values = {lowest, highest, 2 * lowest, *(2**k for k in range(1, 40) if 2**k <= highest)}
    values |= {v - 1 for v in values if v - 1 >= lowest} | {v + 1 for v in values if v < highest}
    values |= set(rng.integers(lowest, highest, 500, endpoint=True).tolist())
    for value in sorted(values):
        index = ours.index_of(value)
        assert index == theirs.get_counts_array_index(value), value
        assert ours.value_from_index(index) == theirs.get_value_from_index(index), value
        assert ours.highest_equivalent(value) == theirs.get_highest_equivalent_value(value)
        assert ours.lowest_equivalent(value) == theirs.get_lowest_equivalent_value(value)
        assert ours.median_equivalent(value) == theirs._hdr_median_equiv_value(value)


def hdrh_blob(counts: dict[int, int], layout: HdrLayout = OURS) -> str:
    hdr = HdrHistogram(layout.lowest, layout.highest, layout.digits)
    for index, count in counts.items():
        hdr.record_value(layout.value_from_index(index), count)
    blob = hdr.encode()
    return blob.decode() if isinstance(blob, bytes) else str(blob)


def our_blob(counts: dict[int, int], layout: HdrLayout = OURS) -> str:
    if not counts:
        return hdr_format.encode(layout, 0, np.zeros(0, np.uint64))
    low, high = min(counts), max(counts)
    span = np.zeros(high - low + 1, np.uint64)
    for index, count in counts.items():
        span[index - low] = count
    return hdr_format.encode(layout, low, span)


index_counts = st.dictionaries(
    st.integers(0, OURS.counts_len - 1),
    st.integers(1, 2**40) | st.integers(1, 5),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(index_counts)
def test_blobs_are_byte_identical_to_hdrh_s(counts: dict[int, int]) -> None:
    assert our_blob(counts) == hdrh_blob(counts)


@settings(max_examples=200, deadline=None)
@given(index_counts)
def test_hdrh_s_blobs_decode_to_their_counts(counts: dict[int, int]) -> None:
    layout, pairs = hdr_format.decode(hdrh_blob(counts))
    assert layout == OURS
    assert dict(pairs) == counts


@pytest.mark.parametrize(("lowest", "highest", "digits"), LAYOUTS[1:5])
def test_other_layouts_round_trip_through_hdrh(lowest: int, highest: int, digits: int) -> None:
    layout = HdrLayout(lowest, highest, digits)
    rng = np.random.default_rng(digits)
    counts = {int(i): int(c) for i, c in zip(rng.integers(0, layout.counts_len, 40),
                                             rng.integers(1, 1000, 40), strict=True)}  # fmt: skip
    blob = our_blob(counts, layout)
    assert blob == hdrh_blob(counts, layout)
    decoded = HdrHistogram.decode(blob)
    assert decoded.get_total_count() == sum(counts.values())
    assert hdr_format.decode(blob)[0] == layout


def test_runs_of_zeros_and_large_counts_take_the_documented_form() -> None:
    """A run of zeros, even of one, is its negated length; ZigZag LEB128 (a lone zero written
    as 0, as Java's encoder does, reads back the same)."""
    zeros = bytearray()
    hdr_format._put_zeros(zeros, 1)
    assert zeros == bytes([1])
    assert dict(hdr_format._counts(bytes([0, 2, 1, 4]), 10)) == {1: 1, 3: 2}
    payload = bytearray()
    for value in (5, 0, -3, 2**62):
        hdr_format._put_varint(payload, value)
    assert payload[:3] == bytes([10, 0, 5])
    decoded, pos, values = 0, 0, []
    while pos < len(payload):
        decoded, pos = hdr_format._get_varint(bytes(payload), pos)
        values.append(decoded)
    assert values == [5, 0, -3, 2**62]


@pytest.mark.parametrize(
    "blob",
    [
        "not base64!",
        base64.b64encode(b"\x00\x01").decode(),
        base64.b64encode(b"\x1c\x84\x93\x14\x00\x00\x00\x05xxxxx").decode(),  # not deflated
        base64.b64encode(b"\x1c\x84\x93\x99\x00\x00\x00\x00").decode(),  # wrong cookie
        base64.b64encode(SHORT).decode(),  # inflates to less than a header
    ],
)
def test_anything_else_is_a_value_error(blob: str) -> None:
    with pytest.raises(ValueError):
        _layout, pairs = hdr_format.decode(blob)
        list(pairs)


def test_a_blob_of_another_layout_converts_as_hdrh_s_add_does() -> None:
    from agentload.metrics.histogram import LatencyHistogram

    other = HdrHistogram(1, 10**7, 2)
    for value_us, count in ((3, 5), (1234, 2), (98_765, 1), (9_999_999, 4)):
        other.record_value(value_us, count)
    blob = other.encode()
    ours = LatencyHistogram.decode(blob)
    reference = HdrHistogram(1, 3_600_000_000, 3)
    reference.add(HdrHistogram.decode(blob))
    expected = reference.encode()
    assert ours.encode() == (expected.decode() if isinstance(expected, bytes) else expected)
    assert ours.count == 12
    too_high = HdrHistogram(1, 10**11, 3)
    too_high.record_value(5 * 10**10)
    with pytest.raises(ValueError, match="above"):
        LatencyHistogram.decode(too_high.encode())


def test_a_payload_longer_than_its_layout_allows_is_refused_before_it_inflates() -> None:
    # 30 MB of lone zeros: more than 9 bytes per counter of its layout
    bomb = blob_of(bytes([1]) * 30_000_000)
    with pytest.raises(ValueError, match="a payload of 30000000 bytes"):
        hdr_format.decode(bomb)


def test_runs_of_zeros_past_the_end_are_refused_at_once() -> None:
    layout = HdrLayout(1, 10_000, 2)
    # one run far past the end, then counts that would take long to walk
    payload = bytearray()
    hdr_format._put_zeros(payload, layout.counts_len + 1)
    payload += bytes([2]) * (9 * layout.counts_len - len(payload))
    with pytest.raises(ValueError, match="more counts than its layout holds"):
        hdr_format.decode(blob_of(bytes(payload), layout=layout))


def test_a_blob_read_as_a_line_still_decodes() -> None:
    blob = our_blob({5: 2, 700: 1})
    assert hdr_format.decode(blob + "\n")[1] == [(5, 2), (700, 1)]
    with pytest.raises(ValueError, match="payload shorter"):
        hdr_format.decode(blob_of(b"\x02", payload_len=5))


def test_bucket_counts_beyond_uint64_are_a_value_error_not_an_overflow() -> None:
    from agentload.metrics.histogram import LatencyHistogram

    layout = HdrLayout(1, 10**7, 5)  # finer buckets: several land in one of ours
    big = 2**63 - 1
    index = layout.index_of(5_000_000)
    payload = bytearray()
    hdr_format._put_zeros(payload, index)
    for _ in range(3):
        hdr_format._put_varint(payload, big)
    with pytest.raises(ValueError, match="out of range"):
        LatencyHistogram.decode(blob_of(bytes(payload), layout=layout))
