"""CPU per request of the HTTP transports alone (no engine, records or sinks), in-process.

    .venv/bin/python bench/transport_only.py --requests 30000 --concurrency 64 --runs 3

``agentload.clients.HttpClient`` over the fast transport and over aiohttp, a bare
aiohttp + uvloop loop, and ``protocol-floor`` (a bare asyncio Protocol on uvloop that writes
fixed request bytes and counts the answers: the kernel's and the event loop's share, which
no Python HTTP client on this loop goes below), each sending plain keep-alive GETs to
``trivial_server.py`` from ``--concurrency`` loops. CPU is the process's rusage (user + sys)
around the request loop only (after imports and a warm-up), divided by the requests: the
cost a transport adds, which bounds what ``agentload run`` can reach (``client_overhead.py``
measures the whole).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchlib import TRIVIAL_SERVER, log, machine, median, now_iso, pick_cores, server, table


def worker(argv: Sequence[str]) -> int:
    import asyncio

    import uvloop

    kind, url, requests, concurrency = argv[0], argv[1], int(argv[2]), int(argv[3])

    async def main() -> dict[str, float]:
        left = requests
        if kind == "protocol-floor":
            return await protocol_floor(url, requests, concurrency)
        if kind == "aiohttp-bare":
            import aiohttp

            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

            async def one() -> None:
                async with session.get(url + "/") as resp:
                    await resp.read()

            close = session.close
        else:
            from agentload.clients.http import HttpClient
            from agentload.clock import MonotonicClock
            from agentload.config.models import HttpRequest, Target
            from agentload.records.record import Timing
            from agentload.sessions.work import Work

            transport = kind.removeprefix("agentload-")
            client = HttpClient(
                Target(base_url=url, protocol="http", transport=transport),
                HttpRequest(method="GET", path="/"),
                max_connections=concurrency,
            )
            clock = MonotonicClock()
            work = Work(seq=0, intended_at=0, action="a", method="GET", path="/", body=None)

            async def one() -> None:
                result = await client.call(work, Timing(), clock)
                assert result.outcome == "ok", result

            close = client.aclose

        async def loop() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one()

        left = concurrency * 20  # warm-up: connections open, code paths hot
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        left = requests
        r0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall0
        await close()
        user_s, sys_s = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
        return {
            "cpu_us": (user_s + sys_s) / requests * 1e6,
            "user_us": user_s / requests * 1e6,
            "sys_us": sys_s / requests * 1e6,
            "per_s": requests / wall,
        }

    print(json.dumps(uvloop.run(main())))
    return 0


async def protocol_floor(url: str, requests: int, concurrency: int) -> dict[str, float]:
    """``concurrency`` connections, each writing the next request when an answer arrives."""
    import asyncio

    host, _, port = url.removeprefix("http://").partition(":")
    request = b"GET / HTTP/1.1\r\nhost: %s\r\nuser-agent: agentload\r\n\r\n" % host.encode()
    loop = asyncio.get_running_loop()
    state = {"left": 0, "open": 0}
    done: asyncio.Future[None] = loop.create_future()

    class Floor(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if state["left"] > 0:
                state["left"] -= 1
                self.transport.write(request)  # type: ignore[attr-defined]
            else:
                state["open"] -= 1
                if state["open"] == 0 and not done.done():
                    done.set_result(None)

    conns = [(await loop.create_connection(Floor, host, int(port)))[1] for _ in range(concurrency)]

    async def burst(count: int) -> None:
        nonlocal done
        done = loop.create_future()
        state["left"], state["open"] = count - concurrency, concurrency
        for conn in conns:
            conn.transport.write(request)  # type: ignore[attr-defined]
        await done

    await burst(concurrency * 20)  # warm-up, as for the clients
    r0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    await burst(requests)
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall0
    for conn in conns:
        conn.transport.close()  # type: ignore[attr-defined]
    user_s, sys_s = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    return {
        "cpu_us": (user_s + sys_s) / requests * 1e6,
        "user_us": user_s / requests * 1e6,
        "sys_us": sys_s / requests * 1e6,
        "per_s": requests / wall,
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="CPU per request of the transports alone")
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    server_cpu, client_cpu, pin_note = pick_cores(True)
    kinds = ["agentload-fast", "agentload-aiohttp", "aiohttp-bare", "protocol-floor"]
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with server(TRIVIAL_SERVER, cpu=server_cpu) as url:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        for run in range(args.runs):
            for kind in kinds:
                cmd = [sys.executable, __file__, "worker", kind, url]
                cmd += [str(args.requests), str(args.concurrency)]
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    log(f"{kind} failed: {out.stderr[-500:]}")
                    continue
                result = json.loads(out.stdout)
                results[kind].append(result)
                log(f"{kind} run {run}: {result['cpu_us']:.1f} µs/request")
    base = median([r["cpu_us"] for r in results["aiohttp-bare"]])
    rows = []
    for kind, runs in results.items():
        cpu = median([r["cpu_us"] for r in runs])
        rate = median([r["per_s"] for r in runs])
        user = median([r["user_us"] for r in runs])
        sys_us = median([r["sys_us"] for r in runs])
        rows.append(
            [
                kind,
                f"{cpu:.1f}",
                f"{user:.1f}",
                f"{sys_us:.1f}",
                f"{cpu / base:.2f}",
                f"{rate:,.0f}",
            ]
        )
    header = [
        f"transport only — {now_iso()} — {machine()}; {pin_note}",
        f"{args.requests:,} GETs from {args.concurrency} loops; medians of {args.runs} runs",
    ]
    text = table(["client", "CPU µs/request", "user µs", "sys µs", "÷ bare aiohttp", "req/s"], rows)
    fast = median([r["cpu_us"] for r in results["agentload-fast"]])
    floor = median([r["cpu_us"] for r in results["protocol-floor"]])
    text += (
        f"\n\nagentload-fast − protocol-floor = {fast - floor:.1f} µs/request: the fast"
        f" transport's own work (request bytes, parsing, pooling, deadlines, the reader);"
        f" the floor's {floor:.1f} µs is the kernel's and the event loop's."
    )
    print("\n".join(header) + "\n\n" + text)
    if args.json is not None:
        args.json.write_text(json.dumps({"header": header, "table": text, "results": results}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        sys.exit(worker(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
