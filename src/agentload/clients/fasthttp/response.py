"""The response a reader sees: status, headers and a body stream fed by the connection.

It offers the part of ``aiohttp.ClientResponse`` the protocol readers use (``status``,
``headers.get``, ``content_type``, ``content.iter_any/read/readany/at_eof``, ``close``), so a
reader works on either transport unchanged. Body bytes are handed over as they arrive: no
fixed-size read buffering sits between the socket and the SSE decoder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar, overload

if TYPE_CHECKING:
    from agentload.clients.fasthttp.connection import Connection

# Buffered body bytes past which the socket stops being read until the reader catches up,
# so a slow reader of a large body holds a bounded amount of memory.
_PAUSE_AT_BYTES = 256 * 1024

_T = TypeVar("_T")


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case; repeated names joined by ", ".

    Built from the parser's raw (name, value) pairs and decoded on first use: most readers
    of a successful plain response never look at a header."""

    __slots__ = ("_items", "_raw")

    def __init__(self, items: dict[str, str]) -> None:
        self._items: dict[str, str] | None = items  # keys already lower-case
        self._raw: list[tuple[bytes, bytes]] | None = None

    @classmethod
    def from_raw(cls, raw: list[tuple[bytes, bytes]]) -> Headers:
        headers = cls.__new__(cls)
        headers._items = None
        headers._raw = raw
        return headers

    def _decoded(self) -> dict[str, str]:
        items = self._items
        if items is None:
            items = {}
            for name, value in self._raw or ():
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                items[key] = f"{items[key]}, {text}" if key in items else text
            self._items = items
            self._raw = None
        return items

    def __getitem__(self, name: str) -> str:
        return self._decoded()[name.lower()]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...

    def get(self, name: str, /, default: object = None) -> object:
        # Mapping.get would go through __getitem__ and a KeyError for every absent name.
        return self._decoded().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._decoded()

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


_NO_HEADERS = Headers({})  # before the head is parsed; never mutated


class Body:
    """The response body as a stream of the chunks the socket delivered."""

    __slots__ = (
        "_chunks",
        "_conn",
        "_consumer",
        "_consumer_error",
        "_eof",
        "_error",
        "_paused",
        "_size",
        "_waiter",
    )

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # A list, not a deque: there is rarely more than one chunk, and an empty deque costs
        # ~600 bytes per stream (10,000 streams in flight: 6 MB).
        self._chunks: list[bytes] = []
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._consumer: Callable[[bytes], bool] | None = None
        self._consumer_error: Exception | None = None

    # --- fed by the connection (protocol callbacks) ------------------------------------

    def feed(self, data: bytes) -> None:
        if self._consumer is not None:  # the streaming hot path: one call per body piece
            self._deliver(data)
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _PAUSE_AT_BYTES and not self._paused:
            self._paused = True
            self._conn.pause_reading()
        self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self._eof:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _deliver(self, data: bytes) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            finished = consumer(data)
        except Exception as exc:  # the reader's error, raised to it from consumed()
            self._consumer = None
            self._consumer_error = exc
            self._wake()
            return
        if finished:
            self._consumer = None
            self._wake()

    # --- read by the protocol reader ---------------------------------------------------

    def consume(self, consumer: Callable[[bytes], bool]) -> None:
        """Hand each chunk to ``consumer`` the moment it arrives, inside the connection's
        callback: no coroutine wakes up per chunk (the streaming hot path). ``consumer``
        returns True when it wants no more; later bytes are buffered for ``read`` again.
        An exception it raises ends consuming and is raised by ``consumed``."""
        self._consumer = consumer
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._size = 0
            if self._paused:
                self._paused = False
                self._conn.resume_reading()
            self._deliver(data)

    async def consumed(self) -> None:
        """Wait until the consumer is finished or the body has ended (or failed)."""
        while self._consumer is not None and not self._eof:
            if self._error is not None:
                raise self._error
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        self._consumer = None
        if self._consumer_error is not None:
            raise self._consumer_error

    def at_eof(self) -> bool:
        return self._eof and not self._chunks

    def take_complete(self) -> bytes | None:
        """The whole body without waiting, when all of it has already arrived (a small
        response usually comes in the same read as its head); ``None`` otherwise, and then
        nothing was taken."""
        if not self._eof or self._error is not None or self._consumer is not None:
            return None
        return self._take() if self._chunks else b""

    def _take(self) -> bytes:
        """Everything buffered (at least one chunk), reading resumed if it was paused."""
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._conn.resume_reading()
        return data

    @property
    def complete(self) -> bool:
        """The whole message was received (the connection may carry the next one)."""
        return self._eof

    async def readany(self) -> bytes:
        """Whatever arrived since the last read, waiting for at least one byte; b"" at the end."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._take()

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes as soon as any are there; the whole body when ``n`` < 0."""
        if n < 0:
            parts = []
            while data := await self.readany():
                parts.append(data)
            return b"".join(parts)
        data = await self.readany()
        if len(data) > n:
            self._chunks.insert(0, data[n:])
            self._size += len(data) - n
            data = data[:n]
        return data

    def iter_any(self) -> Body:
        return self

    def __aiter__(self) -> Body:
        return self

    async def __anext__(self) -> bytes:
        # readany() inlined: one coroutine less per chunk on the streaming hot path.
        chunks = self._chunks
        while not chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                raise StopAsyncIteration
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._conn.resume_reading()
        return data


class FastResponse:
    """One response; ``status`` and ``headers`` are set once its head has been parsed."""

    __slots__ = ("_conn", "content", "headers", "status")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: Headers = _NO_HEADERS
        self.content = Body(conn)

    @property
    def content_type(self) -> str:
        value = self.headers.get("content-type")
        if value is None:
            return "application/octet-stream"  # what aiohttp reports for a missing header
        return value.partition(";")[0].strip().lower()

    def close(self) -> None:
        """Give up on the rest of the body: the connection is closed, not reused."""
        self._conn.abort()
