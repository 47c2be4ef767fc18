"""Sans-I/O Server-Sent Events decoder, following the WHATWG "event stream" parsing rules.

Bytes go in as the transport delivers them, split anywhere; whole events come out. The
decoder works on whole chunks with C-level ``bytes``/``str`` operations: it decodes UTF-8
once per chunk, up to the chunk's last line ending (line endings are ASCII, so that never
cuts a multibyte character), and keeps only the unterminated tail for the next chunk.

Where the spec leaves room, this module decides:

* ``SSEEvent.id`` and ``SSEEvent.retry_ms`` are the values in effect when the event was
  dispatched. Both persist across events (the spec's "last event ID" and "reconnection
  time"), so a field sent in a block without data still reaches the next event.
  ``id`` is ``None`` until the stream sends one; an empty ``id:`` makes it ``""``.
* At end of stream an unterminated event is discarded, as the spec requires;
  ``has_partial_event`` and ``pending_bytes`` let a client tell a clean end from a cut one.
"""

from __future__ import annotations

import msgspec

__all__ = ["DEFAULT_MAX_LINE_BYTES", "SSEDecodeError", "SSEDecoder", "SSEEvent"]

DEFAULT_MAX_LINE_BYTES = 1 << 20

_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode()
_CR = 0x0D
_LF = 0x0A


class SSEDecodeError(ValueError):
    """An unterminated line grew past ``max_line_bytes``; the stream should be abandoned."""


# gc=False: the fields are immutable scalars, so these can never be part of a reference cycle,
# and skipping GC tracking matters at tens of thousands of events per second.
class SSEEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    event: str = "message"
    data: str
    id: str | None = None
    retry_ms: int | None = None


class SSEDecoder:
    """Incremental decoder: ``feed`` each chunk, then ``close`` at end of stream."""

    __slots__ = (
        "_at_start",
        "_buf",
        "_data",
        "_event_type",
        "_in_block",
        "_keep_comments",
        "_last_event_id",
        "_max_line_bytes",
        "_retry_ms",
        "_skip_lf",
        "comments",
    )

    def __init__(
        self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, *, keep_comments: bool = False
    ) -> None:
        """``keep_comments``: collect comment lines (without the colon) in ``comments``
        instead of dropping them; servers use them for metadata such as Server-Timing."""
        if max_line_bytes <= 0:
            raise ValueError("max_line_bytes must be positive")
        self._keep_comments = keep_comments
        self.comments: list[str] = []
        self._max_line_bytes = max_line_bytes
        self._buf = bytearray()  # the current line, not yet terminated
        self._skip_lf = False  # the last chunk ended in CR: a leading LF completes that CRLF
        self._at_start = True  # no line decoded yet, so a BOM may still lead the stream
        self._data: list[str] = []
        self._event_type = ""
        self._in_block = False  # a field line arrived since the last blank line
        self._last_event_id: str | None = None
        self._retry_ms: int | None = None

    @property
    def pending_bytes(self) -> int:
        """Bytes of the current unterminated line."""
        return len(self._buf)

    @property
    def has_partial_event(self) -> bool:
        """Whether the stream so far stops inside an event (before its blank line).

        Comment lines alone (keep-alives) do not count: a stream cut after one ended cleanly.
        """
        if self._in_block:
            return True
        line = bytes(self._buf)
        if self._at_start:
            line = line.removeprefix(_BOM_BYTES)
        return bool(line) and not line.startswith(b":")

    @property
    def last_event_id(self) -> str | None:
        """The id to resume from (the ``Last-Event-ID`` header), or ``None`` if never sent."""
        return self._last_event_id

    @property
    def retry_ms(self) -> int | None:
        """The reconnection time the server last asked for, in milliseconds."""
        return self._retry_ms

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume one chunk of the stream; return the events it completed, in order."""
        if not chunk:
            return []
        data = self.single_data(chunk)
        if data is not None:
            return [
                SSEEvent(
                    event="message", data=data, id=self._last_event_id, retry_ms=self._retry_ms
                )
            ]
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            # Still inside one line: append only, so a long line fed in small pieces is
            # not re-copied per chunk.
            self._buf += chunk
            self._check_line_length()
            return []
        last = len(chunk) - 1
        if self._buf:
            self._buf += chunk if end == last else chunk[: end + 1]
            text = self._buf.decode("utf-8", "replace")
            self._buf.clear()
        else:
            text = (chunk if end == last else chunk[: end + 1]).decode("utf-8", "replace")
        if end == last:
            self._skip_lf = chunk[end] == _CR
        else:
            self._buf += chunk[end + 1 :]
            self._check_line_length()
        if self._at_start:
            self._at_start = False
            text = text.removeprefix(_BOM)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # text ends with a line ending, so the last piece is always empty
        return self._process(lines)

    def single_data(self, chunk: bytes) -> str | None:
        """The data of ``chunk`` when it is exactly one event of one ``data: `` line, at an
        event boundary (the common case of a streamed answer); ``None`` otherwise, and then
        ``feed`` must take the chunk. Such a chunk leaves the decoder's state as it was, so a
        caller that uses the data need not feed it: the same event ``feed`` would give, with
        ``event`` "message" and the current ``id`` and ``retry_ms``, without building it."""
        # Integer membership (memchr) and one slice: this runs once per streamed token.
        if (
            chunk[:6] == b"data: "
            and chunk[-2:] == b"\n\n"
            and not (self._buf or self._in_block or self._skip_lf or self._at_start)
        ):
            data = chunk[6:-2]
            if _LF not in data and _CR not in data:
                return data.decode("utf-8", "replace")
        return None

    def close(self) -> list[SSEEvent]:
        """End of stream: an event without its closing blank line is discarded (spec).

        Returns a list for symmetry with ``feed``; it is always empty. ``has_partial_event``
        and ``pending_bytes`` keep describing what was cut off.
        """
        return []

    def _check_line_length(self) -> None:
        if len(self._buf) > self._max_line_bytes:
            size = len(self._buf)
            self._buf.clear()  # release the memory even if the caller keeps the decoder
            raise SSEDecodeError(
                f"an SSE line exceeded {self._max_line_bytes} bytes without a line ending"
                f" ({size} bytes buffered)"
            )

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        in_block = self._in_block
        for line in lines:
            if not line:
                if data:
                    events.append(
                        SSEEvent(
                            event=self._event_type or "message",
                            data="\n".join(data),
                            id=self._last_event_id,
                            retry_ms=self._retry_ms,
                        )
                    )
                    data.clear()
                self._event_type = ""
                in_block = False
                continue
            if line[0] == ":":
                if self._keep_comments:
                    self.comments.append(line[2:] if line[1:2] == " " else line[1:])
                continue
            in_block = True
            field, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "event":
                self._event_type = value
            elif field == "id":
                if "\0" not in value:
                    self._last_event_id = value
            elif field == "retry" and value.isascii() and value.isdigit():
                # isascii too: isdigit alone would accept non-ASCII digits such as "٣".
                self._retry_ms = int(value)
            # Any other field name is ignored, as the spec requires.
        self._in_block = in_block
        return events
