"""Foreign exceptions become error kinds here, and only here."""

from __future__ import annotations

import asyncio
import errno
import ssl
import sys
from types import ModuleType

from agentload.protocol.openai_chat import ProtocolError
from agentload.protocol.sse import SSEDecodeError
from agentload.records.record import ErrorKind

_MAX_MESSAGE = 200
# Errors that say the load generator, not the target, ran out of something.
_CLIENT_LIMIT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


class BodyTooLarge(Exception):
    pass


class TransportError(Exception):
    """A failure the fast transport detected on the wire (not an OS error)."""


class ServerDisconnected(TransportError):
    """The server closed the connection before the response was complete."""


class MalformedResponse(TransportError):
    """Bytes that are not a valid HTTP/1.1 response."""


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a response body may raise, for an ``except`` clause: the fast
    transport's errors, and aiohttp's where aiohttp is in use (it is imported only then)."""
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:
        return (TimeoutError, TransportError)
    return (TimeoutError, TransportError, aiohttp.ClientError)


def classify_status(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.HTTP_429
    if 400 <= status < 500:
        return ErrorKind.HTTP_4XX
    if status >= 500:
        return ErrorKind.HTTP_5XX
    return ErrorKind.PROTOCOL_ERROR  # 1xx/3xx/unexpected 2xx where success was not expected


def classify_exception(exc: BaseException, *, sent: bool) -> tuple[ErrorKind, str]:
    """Map anything raised while sending or reading to a kind and a short message."""
    kind = _kind(exc, sent=sent)
    text = str(exc) or type(exc).__name__
    return kind, text[:_MAX_MESSAGE]


def _kind(exc: BaseException, *, sent: bool) -> ErrorKind:
    if isinstance(exc, BodyTooLarge):
        return ErrorKind.BODY_TOO_LARGE
    if isinstance(exc, ProtocolError | SSEDecodeError | UnicodeDecodeError | MalformedResponse):
        return ErrorKind.PROTOCOL_ERROR
    if isinstance(exc, ServerDisconnected):
        return ErrorKind.CONNECTION_RESET
    aiohttp = sys.modules.get("aiohttp")  # none of its errors exist unless it was imported
    if aiohttp is not None and (kind := _aiohttp_kind(aiohttp, exc)) is not None:
        return kind
    if isinstance(exc, OSError) and exc.errno in _CLIENT_LIMIT_ERRNOS:
        return ErrorKind.CLIENT_LIMIT
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ErrorKind.TOTAL_TIMEOUT
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ErrorKind.CONNECTION_RESET
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.CONNECT_ERROR
    if isinstance(exc, OSError):
        return ErrorKind.CONNECTION_RESET if sent else ErrorKind.CONNECT_ERROR
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return ErrorKind.PROTOCOL_ERROR
    return ErrorKind.CLIENT_ERROR


def _aiohttp_kind(aiohttp: ModuleType, exc: BaseException) -> ErrorKind | None:
    """aiohttp's own errors, checked before the OS errors some of them subclass."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ErrorKind.CONNECT_TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_errno = getattr(exc.os_error, "errno", None)
        if os_errno in _CLIENT_LIMIT_ERRNOS:
            return ErrorKind.CLIENT_LIMIT
        if os_errno == errno.ECONNREFUSED:
            return ErrorKind.CONNECT_REFUSED
        if os_errno == errno.ETIMEDOUT:
            return ErrorKind.CONNECT_TIMEOUT
        return ErrorKind.CONNECT_ERROR
    if isinstance(exc, OSError) and exc.errno in _CLIENT_LIMIT_ERRNOS:
        return ErrorKind.CLIENT_LIMIT
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ErrorKind.TOTAL_TIMEOUT
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return ErrorKind.CONNECTION_RESET
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.http_exceptions.HttpProcessingError):
        return ErrorKind.PROTOCOL_ERROR
    return None
