"""A trivial HTTP/1.1 keep-alive server for benchmarking HTTP *clients*.

It must never be the bottleneck, so it does almost nothing per request: an asyncio
``Protocol`` on uvloop that counts request heads by finding ``b"\\r\\n\\r\\n"`` in the byte
stream (clients send ``GET`` without a body) and answers each with the same fixed 200
response and a 2-byte body. No parsing, no routing, no allocation beyond the write.

Usage (the benchmark starts it as a subprocess)::

    python bench/trivial_server.py [--port 0] [--cpu N] [--max-seconds S]

It binds 127.0.0.1 only, prints ``PORT <n>`` on stdout once listening, and exits on
SIGTERM/SIGINT, after ``--max-seconds`` (default 3600) so it can never outlive a forgotten
benchmark for long, and with ``--exit-on-stdin-eof`` when its stdin closes (the benchmark
holds the other end of a pipe, so the server dies with it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import cast

# One fixed response: keep-alive is the HTTP/1.1 default, Content-Length frames the body.
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
HEAD_END = b"\r\n\r\n"
# A client that sends more than this without finishing a request head is dropped.
MAX_PENDING = 64 * 1024


class TrivialHTTP(asyncio.Protocol):
    """Answers every request head on the connection with ``RESPONSE`` (pipelining works)."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, hence the cast.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._pending + data if self._pending else data
        count = buf.count(HEAD_END)
        if count:
            # Keep only what follows the last complete head (a partial next request).
            self._pending = buf[buf.rfind(HEAD_END) + len(HEAD_END) :]
            assert self._transport is not None
            self._transport.write(RESPONSE * count)
        else:
            self._pending = buf
        if len(self._pending) > MAX_PENDING and self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


def _write_ready(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


async def serve(port: int, max_seconds: float, watch_stdin: bool, ready_file: str | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(TrivialHTTP, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    if ready_file:  # written whole, then renamed: a reader never sees half of it
        _write_ready(ready_file, f"http://127.0.0.1:{bound}\n")

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Stop when the parent closes our stdin (it exited or crashed).
    if watch_stdin:
        loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(0, 4096) else None)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    server.close()
    # Python 3.12+ waits here for open connections to close; do not wait forever.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="hard lifetime cap")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent exited)"
    )
    parser.add_argument("--ready-file", default=None, help="write the URL here once listening")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        import uvloop
    except ImportError:  # still works on asyncio's own loop, just with more CPU per request
        asyncio.run(serve(args.port, args.max_seconds, args.exit_on_stdin_eof, args.ready_file))
    else:
        uvloop.run(serve(args.port, args.max_seconds, args.exit_on_stdin_eof, args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
