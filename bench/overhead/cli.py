"""The benchmark's command line: parse the options, run everything, print the results."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from .clients import (
    MODES,
    AgentloadAiohttpClient,
    AgentloadClient,
    AiohttpClient,
    Client,
    Load,
    find_agentload,
)
from .measure import ClientResult, benchmark
from .proc import SERVER_SCRIPT, SLACK_S, TrivialServer, pick_cores
from .report import medians, render, write_json


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="CPU time per request and maximum request rate of `agentload run` vs a "
        "plain aiohttp+uvloop loop (and Locust FastHttpUser if installed), against a trivial "
        "local HTTP server."
    )
    add = parser.add_argument
    add("--runs", type=int, default=3, help="runs per client and mode (default 3)")
    add("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    add("--users", type=int, default=64, help="closed mode users (default 64)")
    add("--rate", type=float, default=2000.0, help="rate mode, req/s (default 2000)")
    add("--max-in-flight", type=int, default=256, help="rate mode cap (default 256)")
    add("--json", type=Path, default=None, metavar="PATH", help="write results as JSON")
    add("--agentload", default=None, help="the agentload executable (default: beside python)")
    add("--no-pin", action="store_true", help="do not pin server and clients to cores")
    add("--no-locust", action="store_true", help="skip Locust even if installed")
    add("--no-wrk", action="store_true", help="skip wrk even if installed")
    add("--no-aiohttp-transport", action="store_true",
        help="skip the agentload run with target.transport: aiohttp")  # fmt: skip
    add("--profile", type=Path, default=None, metavar="DIR",
        help="also run agentload once per mode under cProfile, save the profiles in DIR and "
        "print the top costs per request")  # fmt: skip
    add("--no-sinks", action="store_true",
        help="skip the in-process cost of agentload's record sinks")  # fmt: skip
    add("--keep", action="store_true", help="keep the temporary run directories")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be between 1 and 50")
    if not 0.5 <= args.duration <= 300:
        parser.error("--duration must be between 0.5 and 300 seconds")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def extras(args: argparse.Namespace, agentload: AgentloadClient, load: Load) -> list[str]:
    """The optional sections after the tables: record-sink costs and profiles."""
    out: list[str] = []
    if not args.no_sinks:
        log("measuring the in-process cost of agentload's record sinks ...")
        try:
            from .sinks import sink_costs

            out.append(sink_costs())
        except Exception as exc:  # internals move; the main table must not depend on them
            out.append(f"Recording cost per request: unavailable ({exc!r})")
    if args.profile is not None:
        from .profiling import profile_agentload

        for mode in MODES:
            log(f"profiling one agentload {mode} run under cProfile ...")
            dest = args.profile / f"agentload-{mode}.prof"
            out.append(profile_agentload(agentload, mode, dest, 25, load.duration_s + SLACK_S))
    return out


def add_peers(
    args: argparse.Namespace,
    clients: list[Client],
    results: dict[str, ClientResult],
    url: str,
    load: Load,
    workdir: Path,
) -> None:
    """wrk and Locust, where installed (``bench/peers.py``), else a skipped row saying why."""
    from peers import cached

    from .locust_client import LocustClient
    from .wrk_client import WrkClient

    for name, off in (("wrk", args.no_wrk), ("locust", args.no_locust)):
        peer = cached(name)
        if off or peer.exe is None:
            results[name] = ClientResult(name, skipped=f"--no-{name}" if off else peer.note)
            continue
        if name == "wrk":
            clients.append(WrkClient(peer.exe, url, load, workdir))
        else:
            clients.append(LocustClient(peer.exe, url, load, workdir))
        results[name] = ClientResult(name)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    load = Load(args.users, args.duration, args.rate, args.max_in_flight)
    server_core, client_core, pin_note = pick_cores(not args.no_pin)
    # Upper bound on the whole benchmark, so the server can never outlive it by much.
    budget_s = args.runs * 8 * (args.duration + SLACK_S) + 600

    workdir = Path(tempfile.mkdtemp(prefix="agentload-bench-"))
    server = TrivialServer(cpu=server_core, max_seconds=budget_s)
    try:
        if client_core is not None:
            os.sched_setaffinity(0, {client_core})  # children (the clients) inherit it
        exe = find_agentload(args.agentload)
        agentload = AgentloadClient(exe, server.url, load, workdir)
        clients: list[Client] = [agentload, AiohttpClient(server.url, load)]
        if not args.no_aiohttp_transport:
            clients.insert(1, AgentloadAiohttpClient(exe, server.url, load, workdir))
        results = {c.name: ClientResult(c.name) for c in clients}
        add_peers(args, clients, results, server.url, load, workdir)

        header = [
            f"client overhead benchmark — {datetime.now(UTC).isoformat(timespec='seconds')}",
            f"python {platform.python_version()} on {platform.platform()}, "
            f"{os.cpu_count()} CPUs; {pin_note}",
            f"server: {SERVER_SCRIPT.name} at {server.url} (asyncio Protocol on uvloop, fixed 200)",
            f"closed: {load.users} users for {load.duration_s:g} s; rate: constant "
            f"{load.rate_per_s:g}/s for {load.duration_s:g} s, in-flight cap {load.max_in_flight}",
            "CPU µs/request = (user+sys CPU of the client process from rusage - its median "
            "1-request-run CPU) / ok requests",
        ]
        log("\n".join(header))
        benchmark(clients, results, server, load.duration_s, args.runs, log)
        rows = medians(results)
        sections = [render(results, rows, args.runs), *extras(args, agentload, load)]
        print("\n".join(header))
        print()
        print("\n\n".join(sections))
        if args.json is not None:
            write_json(args.json, header, load, args.runs, pin_note, rows, results)
    finally:
        server.stop()
        if args.keep:
            log(f"run directories kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
