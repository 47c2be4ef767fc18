"""The plain aiohttp + uvloop client, the baseline; runs in its own process.

``client_overhead.py aiohttp-worker URL {closed,rate} [options]`` sends the load and prints
one JSON line: ``requests``, ``ok``, ``errors``, ``dropped`` and ``achieved_per_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import uvloop

from .clients import MODES


@dataclass
class Counts:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    dropped: int = 0
    first_send: float = 0.0
    last_send: float = 0.0

    def sent(self, now: float) -> None:
        if not self.requests:
            self.first_send = now
        self.last_send = now
        self.requests += 1

    def achieved_per_s(self) -> float:
        window = self.last_send - self.first_send
        return self.requests / window if window > 0 else 0.0


async def one(session: aiohttp.ClientSession, url: str, counts: Counts) -> None:
    try:
        async with session.get(url) as response:
            await response.read()
            if response.status == 200:
                counts.ok += 1
            else:
                counts.errors += 1
    except (aiohttp.ClientError, OSError):
        counts.errors += 1


async def closed(session: aiohttp.ClientSession, args: argparse.Namespace, counts: Counts) -> None:
    deadline = time.monotonic() + args.duration

    async def user() -> None:
        while (now := time.monotonic()) < deadline and counts.requests < args.max_requests:
            counts.sent(now)
            await one(session, args.url, counts)

    await asyncio.gather(*(user() for _ in range(args.users)))


async def rate(session: aiohttp.ClientSession, args: argparse.Namespace, counts: Counts) -> None:
    # Constant arrivals at absolute times t0 + i/rate; a late start does not shift the rest.
    total = min(int(args.rate * args.duration), args.max_requests)
    in_flight: set[asyncio.Task[None]] = set()
    t0 = time.monotonic()
    for i in range(total):
        delay = t0 + i / args.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= args.max_in_flight:
            counts.dropped += 1
            continue
        counts.sent(time.monotonic())
        task = asyncio.ensure_future(one(session, args.url, counts))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)


async def send(args: argparse.Namespace, counts: Counts) -> None:
    connector = aiohttp.TCPConnector(limit=max(args.users, args.max_in_flight))
    async with aiohttp.ClientSession(connector=connector) as session:
        await (closed if args.mode == "closed" else rate)(session, args, counts)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="client_overhead.py aiohttp-worker")
    parser.add_argument("url")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--max-requests", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    counts = Counts()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(send(args, counts))
    result = {
        "requests": counts.requests,
        "ok": counts.ok,
        "errors": counts.errors,
        "dropped": counts.dropped,
        "achieved_per_s": counts.achieved_per_s(),
    }
    print(json.dumps(result))
    return 0
