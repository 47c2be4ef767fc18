"""One HTTP/1.1 connection: an asyncio Protocol that feeds an httptools response parser.

One request at a time (no pipelining). Bytes that arrive when no request is waiting, or
past the end of the current response, were not asked for: the connection is marked
unusable and closed, so they can never be read as the answer to a later request.
Body framing (Content-Length, chunked, or close-delimited) is the parser's; a body that
ends with the connection is complete only when it had neither length nor chunking.

Per response the parser calls back once per header and once per body piece, so those
callbacks only store what they are given: header names and values are decoded when a reader
first looks at them (a plain request's reader never does), and the framing headers are
looked at only when the connection ends before the response did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httptools

from agentload.clients.failures import MalformedResponse, ServerDisconnected
from agentload.clients.fasthttp.response import FastResponse, Headers

__all__ = ["Connection", "MalformedResponse", "ServerDisconnected"]


class Connection(asyncio.Protocol):
    __slots__ = (
        "_head",
        "_head_only",
        "_loop",
        "_parser",
        "_raw_headers",
        "_response",
        "_transport",
        "closed",
        "keep_alive",
        "on_first_byte",
        "received_any",
        "unusable",
    )

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._response: FastResponse | None = None
        self._head: asyncio.Future[FastResponse] | None = None
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._head_only = False
        self.closed = False
        self.keep_alive = False
        self.unusable = False
        self.received_any = False  # any byte of the current response
        self.on_first_byte: Callable[[], None] | None = None

    # --- used by the transport ---------------------------------------------------------

    def send(
        self,
        request: bytes,
        *,
        head_only: bool = False,
        on_first_byte: Callable[[], None] | None = None,
    ) -> asyncio.Future[FastResponse]:
        """Write one request; the future resolves when the response head has been parsed.
        ``on_first_byte`` runs when the first byte of the answer arrives."""
        assert self._transport is not None and self._loop is not None
        self._response = FastResponse(self)
        self._head = self._loop.create_future()
        self._head_only = head_only
        self.received_any = False
        self.on_first_byte = on_first_byte
        self.keep_alive = False
        self._transport.write(request)
        return self._head

    def reusable(self) -> bool:
        response = self._response
        return (
            not self.closed
            and not self.unusable
            and self.keep_alive
            and response is not None
            and response.content.complete
        )

    def finish(self) -> None:
        """The exchange is over (success or not): forget the response."""
        self._response = None
        self._head = None
        self.on_first_byte = None

    def abort(self) -> None:
        self.unusable = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        self.unusable = True
        if self._transport is not None:
            self._transport.close()

    def pause_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # TCP: always a Transport
        self._loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        if self.unusable:
            return
        if not self.received_any:
            self.received_any = True
            if self.on_first_byte is not None:
                self.on_first_byte()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.unusable:  # not already handled by an unsolicited-response check
                self._fail(MalformedResponse(f"malformed HTTP response: {exc}"))
            self.abort()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost finishes the response

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self._response
        if response is None or response.content.complete:
            return
        if self._head is not None and not self._head.done():
            self._fail(ServerDisconnected("server closed the connection before responding"))
        elif response.status and _close_delimited(response):
            response.content.feed_eof()  # a body without length ends with the connection
        else:
            self._fail(ServerDisconnected("server closed the connection mid-body"))

    def _fail(self, error: BaseException) -> None:
        head = self._head
        if head is not None and not head.done():
            head.set_exception(error)
        elif self._response is not None:
            self._response.content.fail(error)

    # --- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        response = self._response
        if response is None or response.status != 0:
            # A second response with no request for it: never hand it to anyone.
            self.unusable = True
            raise _Unsolicited
        self._raw_headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        response = self._response
        head = self._head
        assert response is not None and head is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim response; the real one follows
            self._raw_headers = []
            return
        response.status = status
        response.headers = Headers.from_raw(self._raw_headers)
        self.keep_alive = self._parser.should_keep_alive()
        if self._head_only:  # no body follows a HEAD response whatever its headers say
            response.content.feed_eof()
            self.unusable = True
        if not head.done():
            head.set_result(response)

    def on_body(self, body: bytes) -> None:
        response = self._response
        if response is not None:
            response.content.feed(body)

    def on_message_complete(self) -> None:
        response = self._response
        if response is None or response.status == 0:
            return  # the end of an interim (1xx) response
        response.content.feed_eof()


def _close_delimited(response: FastResponse) -> bool:
    """A body that ends with the connection: neither a length nor chunking, and a status
    that may carry a body."""
    headers = response.headers
    return (
        "content-length" not in headers
        and "chunked" not in headers.get("transfer-encoding", "").lower()
        and response.status not in (204, 304)
    )


class _Unsolicited(Exception):
    """Raised inside the parser to stop it at an unrequested response."""
