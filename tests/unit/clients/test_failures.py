"""Foreign exceptions map to the right error kind."""

from __future__ import annotations

import errno

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from agentload.clients.failures import classify_exception, classify_status
from agentload.protocol.openai_chat import ProtocolError
from agentload.records.record import ErrorKind

KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)


def connector_error(code: int) -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(KEY, OSError(code, errno.errorcode[code]))


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (connector_error(errno.ECONNREFUSED), ErrorKind.CONNECT_REFUSED),
        (connector_error(errno.ETIMEDOUT), ErrorKind.CONNECT_TIMEOUT),
        (connector_error(errno.EHOSTUNREACH), ErrorKind.CONNECT_ERROR),
        (connector_error(errno.EMFILE), ErrorKind.CLIENT_LIMIT),
        (OSError(errno.EADDRNOTAVAIL, "no ports"), ErrorKind.CLIENT_LIMIT),
        (aiohttp.ServerDisconnectedError(), ErrorKind.CONNECTION_RESET),
        (ConnectionResetError(), ErrorKind.CONNECTION_RESET),
        (aiohttp.ClientPayloadError("cut"), ErrorKind.CONNECTION_RESET),
        (ProtocolError("bad chunk"), ErrorKind.PROTOCOL_ERROR),
        (RuntimeError("bug"), ErrorKind.CLIENT_ERROR),
    ],
)
def test_exceptions(exc: BaseException, kind: ErrorKind) -> None:
    assert classify_exception(exc, sent=True)[0] is kind


def test_statuses() -> None:
    assert classify_status(429) is ErrorKind.HTTP_429
    assert classify_status(404) is ErrorKind.HTTP_4XX
    assert classify_status(503) is ErrorKind.HTTP_5XX


def test_messages_are_short() -> None:
    assert len(classify_exception(RuntimeError("x" * 5000), sent=False)[1]) <= 200
