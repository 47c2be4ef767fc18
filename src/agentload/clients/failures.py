"""Foreign exceptions become error kinds here, and only here."""

from __future__ import annotations

import asyncio
import errno
import ssl

import aiohttp

from agentload.protocol.openai_chat import ProtocolError
from agentload.protocol.sse import SSEDecodeError
from agentload.records.record import ErrorKind

_MAX_MESSAGE = 200
# Errors that say the load generator, not the target, ran out of something.
_CLIENT_LIMIT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


class BodyTooLarge(Exception):
    pass


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
    if isinstance(exc, ProtocolError | SSEDecodeError | UnicodeDecodeError):
        return ErrorKind.PROTOCOL_ERROR
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ErrorKind.CONNECT_TIMEOUT
    if _os_errno(exc) in _CLIENT_LIMIT_ERRNOS:
        return ErrorKind.CLIENT_LIMIT
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_errno = getattr(exc.os_error, "errno", None)
        if os_errno == errno.ECONNREFUSED:
            return ErrorKind.CONNECT_REFUSED
        if os_errno == errno.ETIMEDOUT:
            return ErrorKind.CONNECT_TIMEOUT
        return ErrorKind.CONNECT_ERROR
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError | asyncio.TimeoutError):
        return ErrorKind.TOTAL_TIMEOUT
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return ErrorKind.CONNECTION_RESET
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.http_exceptions.HttpProcessingError):
        return ErrorKind.PROTOCOL_ERROR
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ErrorKind.CONNECTION_RESET
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.CONNECT_ERROR
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return ErrorKind.CONNECTION_RESET if sent else ErrorKind.CONNECT_ERROR
    if isinstance(exc, aiohttp.ClientError):
        return ErrorKind.PROTOCOL_ERROR
    return ErrorKind.CLIENT_ERROR


def _os_errno(exc: BaseException) -> int | None:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return getattr(exc.os_error, "errno", None)
    if isinstance(exc, OSError):
        return exc.errno
    return None
