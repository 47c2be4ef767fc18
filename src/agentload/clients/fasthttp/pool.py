"""Keep-alive connections to one origin, at most ``limit`` open at once.

Idle connections are reused newest first (the warmest, and the least likely to have been
closed by the server's idle timeout). A caller that finds the limit reached waits its turn.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections import deque

from agentload.clients.fasthttp.connection import Connection
from agentload.records.record import ErrorKind

_CLIENT_LIMIT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS})


class ConnectFailed(Exception):
    """A new connection could not be opened; ``kind`` says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Pool:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        limit: int,
        connect_timeout_s: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._host = host
        self._port = port
        self._limit = max(1, limit)
        self._connect_timeout_s = connect_timeout_s
        self._ssl = ssl_context
        self._idle: list[Connection] = []
        self._open: set[Connection] = set()  # idle, in use, or connecting
        self._connecting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def open_connections(self) -> int:
        return len(self._open) + self._connecting

    def take_idle(self) -> Connection | None:
        """An idle kept-alive connection, without waiting (the common case, and no await)."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed and not conn.unusable:
                return conn
            self._forget(conn)
        return None

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection ready for one request, and whether it was reused from the pool."""
        while True:
            idle = self._idle
            while idle:
                conn = idle.pop()
                if not conn.closed and not conn.unusable:
                    return conn, True
                self._forget(conn)
            if len(self._open) + self._connecting < self._limit:
                return await self._connect(), False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass on a turn that this caller will not take
                else:
                    self._waiters.remove(waiter)
                raise

    def release(self, conn: Connection) -> None:
        """Back to the pool when it can carry another request; closed otherwise."""
        reusable = conn.reusable()
        conn.finish()
        if reusable:
            self._idle.append(conn)
        else:
            conn.abort()
            self._forget(conn)
        self._wake_one()

    def discard(self, conn: Connection) -> None:
        conn.finish()
        conn.abort()
        self._forget(conn)
        self._wake_one()

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        self._connecting += 1
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise ConnectFailed(
                ErrorKind.CONNECT_TIMEOUT, f"no connection within {self._connect_timeout_s:g}s"
            ) from None
        except ssl.SSLError as exc:
            raise ConnectFailed(ErrorKind.CONNECT_ERROR, f"TLS: {exc}") from None
        except OSError as exc:
            raise ConnectFailed(_connect_kind(exc), str(exc) or type(exc).__name__) from None
        finally:
            self._connecting -= 1
            if len(self._open) + self._connecting < self._limit:
                self._wake_one()
        self._open.add(conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        self._open.discard(conn)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()


def _connect_kind(exc: OSError) -> ErrorKind:
    if exc.errno in _CLIENT_LIMIT_ERRNOS:
        return ErrorKind.CLIENT_LIMIT
    # With several addresses (localhost: ::1 and 127.0.0.1) asyncio raises one OSError that
    # only names the individual errors in its text.
    refused = exc.errno is None and "refused" in str(exc).lower()
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED or refused:
        return ErrorKind.CONNECT_REFUSED
    if exc.errno == errno.ETIMEDOUT:
        return ErrorKind.CONNECT_TIMEOUT
    return ErrorKind.CONNECT_ERROR
