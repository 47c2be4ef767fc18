"""A local OpenAI-style streaming server with exact token timing, for benchmarks and tests.

Every request (any method and path) is answered with an SSE stream of ``--tokens`` content
chunks, chunked transfer encoding, keep-alive: the first token ``--first-token-ms`` after the
request arrived, then one every ``--interval-ms``, then a finish chunk with ``usage`` and
``data: [DONE]``. An asyncio Protocol on uvloop with one timer per stream, so it costs little
per chunk and its timing is its own, not a framework's.

``--log-times FILE`` writes one line per content chunk, ``request token monotonic_ns``, taken
just before the write: the truth that a client's token timestamps are checked against
(``time.monotonic_ns`` is one clock for every process on the machine; ``--log-clock wall``
logs ``time.time_ns`` instead, to compare with a run directory's wall-clock start).

    python bench/stream_server.py --port 0 --ready-file /tmp/ready --tokens 100 --interval-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from typing import IO

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: object) -> bytes:
    return _chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


_TOKEN = _event(
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}],
    }
)


class Config:
    def __init__(self, args: argparse.Namespace, log: IO[str] | None) -> None:
        self.tokens: int = args.tokens
        self.first_s: float = args.first_token_ms / 1000
        self.interval_s: float = args.interval_ms / 1000
        self.log = log
        self.now_ns = time.time_ns if args.log_clock == "wall" else time.monotonic_ns
        self.requests = 0
        usage = {
            "prompt_tokens": 8,
            "completion_tokens": args.tokens,
            "total_tokens": 8 + args.tokens,
        }
        finish = {
            "id": "c",
            "object": "chat.completion.chunk",
            "usage": usage,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        self.tail = _event(finish) + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class StreamProtocol(asyncio.Protocol):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in self.buf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        self.buf = self.buf[end + 4 + length :]
        self.start()

    def start(self) -> None:
        config = self.config
        request = config.requests
        config.requests += 1
        assert self.transport is not None
        self.transport.write(_HEAD)
        loop = asyncio.get_running_loop()
        first_at = loop.time() + config.first_s
        self.timer = loop.call_at(first_at, self.send, request, 0, first_at)

    def send(self, request: int, token: int, due: float) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        config = self.config
        if token == config.tokens:
            transport.write(config.tail)
            return
        if config.log is not None:
            config.log.write(f"{request} {token} {config.now_ns()}\n")
        transport.write(_TOKEN)
        due += config.interval_s
        self.timer = asyncio.get_running_loop().call_at(due, self.send, request, token + 1, due)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()


def _write_ready(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:  # written whole, then renamed
        f.write(text)
    os.replace(path + ".tmp", path)


async def serve(args: argparse.Namespace) -> None:
    log = open(args.log_times, "w", buffering=1) if args.log_times else None  # noqa: SIM115, ASYNC230
    config = Config(args, log)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: StreamProtocol(config), "127.0.0.1", args.port, backlog=4096
    )
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.ready_file:
        _write_ready(args.ready_file, f"http://127.0.0.1:{port}\n")
    else:
        print(f"http://127.0.0.1:{port}", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    server.close()
    if log is not None:
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--ready-file", default=None)
    parser.add_argument("--log-times", default=None)
    parser.add_argument("--log-clock", choices=["monotonic", "wall"], default="monotonic")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
