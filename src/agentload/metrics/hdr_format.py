"""HdrHistogram's bucket layout and its V2 compressed "histoblob", readable and written by any
HDR implementation (Java, C, Go, Python's hdrh), without the hdrh package.

Why not hdrh: it declares setuptools and pbr as run-time requirements (8.7 MB of the core
install) although it imports neither. The format is small and published:

- layout: values are integers; bucket ``b`` holds ``sub_bucket_count / 2`` sub-buckets of
  width ``2 ** (b + unit_magnitude)`` (bucket 0 has twice as many), which keeps
  ``digits`` significant decimal digits across the range;
- blob: base64 of a big-endian ``(compressed cookie, length)`` header and the zlib-deflated
  encoding, itself a 40-byte big-endian header ``(cookie, payload length, normalizing index
  offset, significant digits, lowest, highest, integer-to-double ratio)`` followed by the
  counts from index 0 to the last non-zero one as ZigZag LEB128 varints, a run of zeros
  written as its negated length (a lone zero too, as hdrh writes it; Java writes a lone
  zero as 0: both read back alike).

tests/unit/metrics/test_hdr_format.py checks every encoded blob against hdrh's, byte for
byte, and decodes hdrh's blobs (hdrh is a test dependency only).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_ENCODING_COOKIE = 0x1C849303 | 0x10  # V2, word size field 0x10 as every V2 writer sets it
_COMPRESSED_COOKIE = 0x1C849304 | 0x10
_COOKIE_MASK = ~0xF0
_OUTER = struct.Struct(">II")  # compressed cookie, compressed length
_HEADER = struct.Struct(">IIIIQQd")  # cookie, payload length, normalizing offset, digits,
# lowest, highest, integer-to-double conversion ratio
_MAX_COUNTS = 4 * 1024 * 1024  # a blob claiming more counters than this is refused
_ASCII_SPACE = re.compile(rb"[ \t\r\n]+")  # a blob read as a line may end with one


@dataclass(frozen=True)
class HdrLayout:
    """Which counts index a value falls in, and back, for one (lowest, highest, digits)."""

    lowest: int
    highest: int
    digits: int
    unit_magnitude: int = field(init=False)
    half_count_magnitude: int = field(init=False)
    sub_bucket_count: int = field(init=False)
    counts_len: int = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.digits <= 5 or self.lowest < 1 or self.highest < 2 * self.lowest:
            raise ValueError(
                f"not an HDR layout: lowest {self.lowest}, highest {self.highest}, "
                f"digits {self.digits}"
            )
        unit = self.lowest.bit_length() - 1  # floor(log2(lowest))
        single_unit_magnitude = math.ceil(math.log2(2 * 10**self.digits))
        half = max(single_unit_magnitude - 1, 0)
        sub_bucket_count = 1 << (half + 1)
        buckets, untrackable = 1, sub_bucket_count << unit
        while untrackable <= self.highest:
            untrackable <<= 1
            buckets += 1
        object.__setattr__(self, "unit_magnitude", unit)
        object.__setattr__(self, "half_count_magnitude", half)
        object.__setattr__(self, "sub_bucket_count", sub_bucket_count)
        object.__setattr__(self, "counts_len", (buckets + 1) * (sub_bucket_count // 2))

    def _bucket(self, value: int) -> tuple[int, int]:
        mask = (self.sub_bucket_count - 1) << self.unit_magnitude
        bucket = (value | mask).bit_length() - self.unit_magnitude - self.half_count_magnitude - 1
        return bucket, value >> (bucket + self.unit_magnitude)

    def index_of(self, value: int) -> int:
        bucket, sub_bucket = self._bucket(value)
        half = 1 << self.half_count_magnitude
        return ((bucket + 1) << self.half_count_magnitude) + sub_bucket - half

    def value_from_index(self, index: int) -> int:
        """The lowest value the index holds."""
        half = 1 << self.half_count_magnitude
        bucket = (index >> self.half_count_magnitude) - 1
        sub_bucket = (index & (half - 1)) + half
        if bucket < 0:
            sub_bucket -= half
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude)

    def _range_size(self, value: int) -> int:
        bucket, sub_bucket = self._bucket(value)
        if sub_bucket >= self.sub_bucket_count:
            bucket += 1
        return 1 << (self.unit_magnitude + bucket)

    def highest_equivalent(self, value: int) -> int:
        """The highest value in the same bucket as ``value``."""
        bucket, sub_bucket = self._bucket(value)
        lowest = sub_bucket << (bucket + self.unit_magnitude)
        return lowest + self._range_size(value) - 1

    def lowest_equivalent(self, value: int) -> int:
        bucket, sub_bucket = self._bucket(value)
        return sub_bucket << (bucket + self.unit_magnitude)

    def median_equivalent(self, value: int) -> int:
        return self.lowest_equivalent(value) + (self._range_size(value) >> 1)


def encode(layout: HdrLayout, low: int, counts: npt.NDArray[np.uint64]) -> str:
    """The blob of a histogram whose non-zero counts all lie in ``counts``, which starts at
    index ``low`` (zeros before it are implied)."""
    payload = bytearray()  # empty for an empty histogram
    next_index = 0  # counts are written from index 0 to the last non-zero one
    for at in np.flatnonzero(counts).tolist():
        index = low + at
        if index > next_index:
            _put_zeros(payload, index - next_index)
        _put_varint(payload, int(counts[at]))
        next_index = index + 1
    header = _HEADER.pack(
        _ENCODING_COOKIE, len(payload), 0, layout.digits, layout.lowest, layout.highest, 1.0
    )
    deflated = zlib.compress(header + bytes(payload))
    return base64.b64encode(_OUTER.pack(_COMPRESSED_COOKIE, len(deflated)) + deflated).decode()


def decode(blob: str | bytes) -> tuple[HdrLayout, list[tuple[int, int]]]:
    """The blob's layout and its (index, count) pairs with count > 0, in index order.
    Raises ValueError for anything that is not a V2 histoblob; the work and memory are
    bounded by the layout the header names, whatever the blob claims after it."""
    try:
        raw = base64.b64decode(_ASCII_SPACE.sub(b"", _as_bytes(blob)), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a histogram blob (base64): {exc}") from None
    if len(raw) < _OUTER.size:
        raise ValueError("not a histogram blob: too short")
    cookie, length = _OUTER.unpack_from(raw)
    if cookie & _COOKIE_MASK != _COMPRESSED_COOKIE & _COOKIE_MASK:
        raise ValueError(f"not a compressed V2 histogram blob (cookie {cookie:#x})")
    inflate = zlib.decompressobj()
    deflated = raw[_OUTER.size : _OUTER.size + length]
    try:
        head = inflate.decompress(deflated, _HEADER.size)  # the header first, then its payload
    except zlib.error as exc:
        raise ValueError(f"histogram blob does not inflate: {exc}") from None
    if len(head) < _HEADER.size:
        raise ValueError("histogram blob: header cut short")
    cookie, payload_len, offset, digits, lowest, highest, _ratio = _HEADER.unpack_from(head)
    if cookie & _COOKIE_MASK != _ENCODING_COOKIE & _COOKIE_MASK:
        raise ValueError(f"not a V2 histogram encoding (cookie {cookie:#x})")
    if offset:
        raise ValueError("histogram blob with a normalizing index offset: not supported")
    layout = HdrLayout(lowest, highest, digits)
    if layout.counts_len > _MAX_COUNTS:
        raise ValueError(f"histogram layout too large: {layout.counts_len} counters")
    if payload_len > 9 * layout.counts_len:  # every counter at its longest varint
        raise ValueError(f"histogram blob: a payload of {payload_len} bytes for its layout")
    try:
        payload = inflate.decompress(inflate.unconsumed_tail, payload_len) if payload_len else b""
    except zlib.error as exc:
        raise ValueError(f"histogram blob does not inflate: {exc}") from None
    if len(payload) != payload_len:
        raise ValueError("histogram blob: payload shorter than its header says")
    return layout, _counts(payload, layout.counts_len)


def _as_bytes(blob: str | bytes) -> bytes:
    if isinstance(blob, bytes):
        return blob
    try:
        return blob.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("not a histogram blob: not ASCII") from None


def _counts(payload: bytes, counts_len: int) -> list[tuple[int, int]]:
    pairs = []
    index, pos = 0, 0
    while pos < len(payload):
        value, pos = _get_varint(payload, pos)
        if value < 0:
            index -= value  # a run of zeros
        elif index >= counts_len:
            raise ValueError("histogram blob: more counts than its layout holds")
        else:
            if value:
                pairs.append((index, value))
            index += 1
        if index > counts_len:  # a run past the end: refuse at once, not after the payload
            raise ValueError("histogram blob: more counts than its layout holds")
    return pairs


def _put_zeros(out: bytearray, run: int) -> None:
    _put_varint(out, -run)


def _put_varint(out: bytearray, value: int) -> None:
    zigzag = (value << 1) ^ (value >> 63)
    for _ in range(8):
        if zigzag < 0x80:
            out.append(zigzag)
            return
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag & 0xFF)  # the ninth byte carries the last 8 bits whole


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    zigzag, shift = 0, 0
    for ninth in range(9):
        if pos >= len(data):
            raise ValueError("histogram blob: a count is cut short")
        byte = data[pos]
        pos += 1
        if ninth == 8:
            zigzag |= byte << 56
            break
        zigzag |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    return (zigzag >> 1) ^ -(zigzag & 1), pos
