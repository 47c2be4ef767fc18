"""Client CPU per streamed SSE chunk with N concurrent streams, against a local streaming server.

    .venv/bin/python bench/streaming.py --streams 500 --tokens 100 --interval-ms 20 --runs 3

The server (``stream_server.py``, its own process and core) answers each request with
``--tokens`` OpenAI-style content chunks, one every ``--interval-ms``. Each client keeps
``--streams`` streams open (a closed loop: a finished stream is replaced at once) for
``--rounds`` streams per slot, and is measured by the kernel (rusage: user + sys):

    CPU µs/chunk = (CPU of the run − CPU of a 1-stream run) / chunks received

so start-up, imports and the run directory are not counted (the 1-stream run is repeated
before every run of agentload and aiohttp, and run once for each peer). ``held`` is the
average number of streams in flight over the run (total stream time ÷ first start to last
end; the ramp-up of the second round lowers it a little for every client): a client that
cannot keep up holds fewer than asked, and its per-chunk figure is then the cost at its own
ceiling.

Clients: ``agentload`` (``agentload run``, the fast transport, every request recorded with
per-chunk timing), ``agentload-aiohttp`` (the same with ``target.transport: aiohttp``) and
``aiohttp`` (a bare aiohttp + uvloop loop that splits SSE events and timestamps each, nothing
else). Peers (``stream_peers.py``: Locust FastHttpUser, AIPerf, GuideLLM) run from their own
virtual environments under ``bench/.peers/``, which ``bench/peers.py`` installs (``make bench``
runs it first); a peer that is not installed is listed as skipped with the reason. AIPerf and
GuideLLM are multi-process: their CPU is that of the whole process tree (rusage counts the
children each process waited for), all pinned to the client core.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import stream_peers
from benchlib import (
    STREAM_SERVER,
    Measured,
    agentload_exe,
    log,
    machine,
    mean_in_flight,
    median,
    now_iso,
    pick_cores,
    record_intervals,
    run_measured,
    server,
    table,
    write_result,
)
from peers import Peer
from peers import cached as cached_peer

PEERS = ("locust", "aiperf", "guidellm")


def scenario(
    path: Path, url: str, transport: str, streams: int, requests: int, tokens: int
) -> Path:
    path.write_text(
        "name: bench-streaming\n"
        f'target: {{base_url: "{url}", protocol: openai-chat, transport: {transport}}}\n'
        f"request: {{path: /v1/chat/completions, prompt_tokens: 8, max_tokens: {tokens},"
        " stream: true}\n"
        f"load: {{model: closed, users: {streams}, requests: {requests}, grace: 30s}}\n"
    )
    return path


def agentload_cmd(scen: Path, out: Path) -> list[str]:
    return [agentload_exe(), "run", str(scen), "--quiet", "--json", "--out", str(out)]


def parse_agentload(m: Measured, out: Path) -> tuple[int, float]:
    summary = json.loads(m.stdout)
    return int(summary["counts"]["ok"]), mean_in_flight(record_intervals(out))


def aiohttp_cmd(url: str, streams: int, requests: int) -> list[str]:
    return [sys.executable, __file__, "aiohttp-worker", url, str(streams), str(requests)]


def aiohttp_worker(argv: Sequence[str]) -> int:
    """The bare baseline: POST, read chunks as they come, split SSE events, time each."""
    import asyncio

    import aiohttp
    import uvloop

    url, streams, requests = argv[0], int(argv[1]), int(argv[2])
    body = json.dumps({"model": "m", "stream": True, "messages": []}).encode()

    async def main() -> None:
        left = requests
        ok = chunks = 0
        intervals: list[tuple[int, int]] = []
        conn = aiohttp.TCPConnector(limit=streams)
        async with aiohttp.ClientSession(connector=conn) as session:

            async def user() -> None:
                nonlocal left, ok, chunks
                while left > 0:
                    left -= 1
                    times: list[int] = []
                    sent = time.monotonic_ns()
                    async with session.post(url + "/v1/chat/completions", data=body) as resp:
                        buf = b""
                        async for data in resp.content.iter_any():
                            now = time.monotonic_ns()
                            buf += data
                            *events, buf = buf.split(b"\n\n")
                            times.extend(now for e in events if e != b"data: [DONE]")
                    chunks += len(times)
                    ok += 1
                    intervals.append((sent, time.monotonic_ns()))

            await asyncio.gather(*(user() for _ in range(streams)))
            print(json.dumps({"ok": ok, "held": mean_in_flight(intervals)}))

    uvloop.run(main())
    return 0


def parse_aiohttp(m: Measured, out: Path) -> tuple[int, float]:
    result = json.loads(m.stdout.strip().splitlines()[-1])
    return int(result["ok"]), float(result["held"])


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="client CPU per streamed SSE chunk")
    add = parser.add_argument
    add("--streams", type=int, default=500, help="concurrent streams (default 500)")
    add("--tokens", type=int, default=100, help="content chunks per stream (default 100)")
    add("--interval-ms", type=float, default=20.0, help="between chunks (default 20)")
    add("--rounds", type=int, default=2, help="streams per slot (default 2)")
    add("--runs", type=int, default=3, help="runs per client (default 3)")
    add("--json", type=Path, default=None, help="write the results as JSON")
    add("--no-pin", action="store_true")
    add("--no-peers", action="store_true", help="only agentload and the bare aiohttp loop")
    add("--max-seconds", type=float, default=0.0,
        help="start no client run after this many seconds (0: no limit)")  # fmt: skip
    args = parser.parse_args(argv)
    server_cpu, client_cpu, pin_note = pick_cores(not args.no_pin)
    stream_s = args.tokens * args.interval_ms / 1000
    timeout_s = args.rounds * stream_s * 4 + 60
    chunks_per_stream = args.tokens
    requests = args.streams * args.rounds
    work = Path(tempfile.mkdtemp(prefix="agentload-stream-bench-"))
    skipped: dict[str, str] = {}
    peers = {name: cached_peer(name) for name in PEERS}
    if args.no_peers:
        skipped = dict.fromkeys(PEERS, "--no-peers")
    else:
        skipped = {name: peer.note for name, peer in peers.items() if not peer.ok}
    rows: dict[str, dict[str, list[float]]] = {}
    failed: dict[str, str] = {}
    with server(
        STREAM_SERVER,
        *("--tokens", str(args.tokens), "--interval-ms", str(args.interval_ms)),
        cpu=server_cpu,
    ) as url:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        clients: dict[str, stream_peers.StreamClient] = {}
        for name, transport in (("agentload", "fast"), ("agentload-aiohttp", "aiohttp")):
            full = scenario(
                work / f"{name}.yaml", url, transport, args.streams, requests, args.tokens
            )
            one = scenario(work / f"{name}-1.yaml", url, transport, 1, 1, args.tokens)
            clients[name] = (
                functools.partial(agentload_cmd, full),
                functools.partial(agentload_cmd, one),
                parse_agentload,
            )
        clients["aiohttp"] = (
            lambda out: aiohttp_cmd(url, args.streams, requests),
            lambda out: aiohttp_cmd(url, 1, 1),
            parse_aiohttp,
        )
        clients.update(add_peers(peers, skipped, url, work, args, requests, timeout_s))
        started = time.monotonic()
        fixed_peer: dict[str, Measured] = {}
        for run in range(args.runs):
            for name, (full_cmd, one_cmd, parse) in clients.items():
                if name in failed and failed[name].startswith("ran past"):
                    continue  # it will not finish in later runs either
                if args.max_seconds and time.monotonic() - started > args.max_seconds:
                    failed.setdefault(name, f"run {run + 1} not started: --max-seconds reached")
                    continue
                # A peer's fixed cost (GuideLLM: ~15 s of CPU to start) is measured once.
                fixed = fixed_peer.get(name) or run_measured(
                    one_cmd(work / "runs" / f"{name}-one-{run}"), timeout_s
                )
                if name in PEERS and fixed.rc == 0:
                    fixed_peer[name] = fixed
                out = work / "runs" / f"{name}-{run}"
                m = run_measured(full_cmd(out), timeout_s)
                if m.wall_s >= timeout_s:
                    failed[name] = f"ran past the {timeout_s:.0f} s limit of a run"
                    continue
                if m.rc != 0 or fixed.rc != 0:
                    log(f"{name} run {run}: exit {m.rc}/{fixed.rc}: {m.stderr}{fixed.stderr}")
                    tail = (m.stderr if m.rc else fixed.stderr).strip().splitlines()[-1:]
                    failed[name] = f"exit {m.rc}/{fixed.rc}: {' '.join(tail)[:160]}"
                    continue
                try:
                    ok, held = parse(m, out)
                except (OSError, ValueError, KeyError, IndexError) as exc:
                    log(f"{name} run {run}: could not read its results: {exc!r}")
                    failed[name] = f"could not read its results: {exc!r}"[:160]
                    continue
                chunks = ok * chunks_per_stream
                cpu_us = (m.cpu_s - fixed.cpu_s) / max(chunks, 1) * 1e6
                row = rows.setdefault(name, {"cpu_us": [], "held": [], "ok": [], "rss": []})
                row["cpu_us"].append(cpu_us)
                row["held"].append(held)
                row["ok"].append(ok)
                row["rss"].append(m.max_rss_kb / 1024)
                log(
                    f"{name} run {run}: {ok}/{requests} streams, {cpu_us:.1f} µs/chunk, "
                    f"held {held:.0f}, CPU {m.cpu_s:.2f} s in {m.wall_s:.1f} s"
                )
    base = median(rows.get("aiohttp", {}).get("cpu_us", []))
    ours = median(rows.get("agentload", {}).get("cpu_us", []))
    out_rows = []
    results = {}
    for name, row in rows.items():
        cpu = median(row["cpu_us"])
        results[name] = {k: median(v) for k, v in row.items()}
        out_rows.append(
            [
                name,
                f"{median(row['ok']):,.0f} of {requests:,}",
                f"{cpu:.1f}",
                f"{cpu / base:.2f}",
                f"{cpu / ours:.2f}",
                f"{median(row['held']):,.0f} of {args.streams:,}",
                f"{median(row['rss']):.0f}",
            ]
        )
    for name, why in {**failed, **skipped}.items():
        if name not in rows:
            kind = "failed" if name in failed else "skipped"
            out_rows.append([name, "—", "—", "—", "—", "—", f"{kind}: {why}"])
    header = [
        f"streaming benchmark — {now_iso()} — {machine()}; {pin_note}",
        f"{args.streams} concurrent streams × {args.rounds} rounds, {args.tokens} chunks each, "
        f"one every {args.interval_ms:g} ms; medians of {args.runs} runs; "
        "÷ agentload > 1: that client spends more CPU per chunk than agentload; "
        "peak RSS of a multi-process client is its largest process",
    ]
    text = table(
        ["client", "ok streams", "CPU µs/chunk", "÷ aiohttp", "÷ agentload", "mean in flight",
         "peak RSS MB"],
        out_rows,
    )  # fmt: skip
    print("\n".join(header) + "\n\n" + text)
    write_result(args.json, "streaming", {"header": header, "table": text, "results": results})
    return 0


def add_peers(
    peers: dict[str, Peer],
    skipped: dict[str, str],
    url: str,
    work: Path,
    args: argparse.Namespace,
    requests: int,
    timeout_s: float,
) -> dict[str, stream_peers.StreamClient]:
    """The installed peers as clients; a peer that cannot be set up joins ``skipped``."""
    out: dict[str, stream_peers.StreamClient] = {}
    if "locust" not in skipped:
        out["locust"] = stream_peers.locust_client(
            peers["locust"], url, work, args.streams, requests, timeout_s - 10
        )
    tokenizer = work / "tokenizer"
    for name in ("aiperf", "guidellm"):
        if name in skipped:
            continue
        peer = peers[name]
        assert peer.exe is not None
        if not (tokenizer / "tokenizer.json").exists():
            why = stream_peers.make_tokenizer(peer.exe, tokenizer)
            if why is not None:
                skipped[name] = why
                continue
        make = stream_peers.aiperf_client if name == "aiperf" else stream_peers.guidellm_client
        out[name] = make(peer, url, tokenizer, args.streams, requests, args.tokens)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["aiohttp-worker"]:
        sys.exit(aiohttp_worker(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
