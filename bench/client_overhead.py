"""Client overhead: CPU time per request and maximum request rate of ``agentload run``.

What it measures, side by side in one invocation, against a trivial local HTTP server
(``bench/trivial_server.py``, its own process, far cheaper per request than any client):

- ``agentload``: the real CLI, ``agentload run SCENARIO --quiet --json --out DIR``, as a user
  runs it (records written to disk, live aggregation, summary at the end).
- ``aiohttp``: a plain aiohttp + uvloop loop (this file's ``aiohttp-worker`` sub-command): the
  floor agentload's HTTP client is built on; the ratio agentload ÷ aiohttp is its overhead.
- ``locust``: Locust's FastHttpUser, only when ``locust`` is importable (closed mode only;
  Locust has no open arrival model). Otherwise the table says it was skipped.

Two modes:

- ``closed``: N users (default 64) send back to back for D seconds (default 5): the client is
  CPU-bound, so ``achieved req/s`` is its maximum request rate on one core.
- ``rate``: an open loop at a fixed rate (default 2000/s, in-flight cap 256): the client is
  not saturated, so ``CPU µs/request`` is the cost of one request at that rate.

How CPU time is measured: each client is a subprocess; its user+sys CPU time comes from the
kernel's rusage for that process (``os.wait4``). That includes interpreter start-up, imports,
and writing the results, so each client's *fixed cost* is measured separately with a run of
one request (``agentload run`` with ``load.requests=1``; the worker with ``--max-requests 1``)
and subtracted: ``CPU µs/request = (CPU of the run - median fixed cost) / ok requests``. The
import-only start-up (``agentload validate``; ``python -c "import aiohttp, uvloop"``) is
printed too, for reference; it is not what is subtracted.

Pinning: where ``os.sched_setaffinity`` exists and two cores are available, the server runs
on the first core and this script and every client on the second, so they do not compete.

Every loop is bounded in count and time; all traffic goes to 127.0.0.1. Run::

    .venv/bin/python bench/client_overhead.py --runs 3 [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "trivial_server.py"
MODES = ("closed", "rate")
# Extra wall time a measured subprocess may take beyond the load duration (start-up, grace).
SLACK_S = 60.0
# How long to wait for the trivial server to print its port.
SERVER_START_TIMEOUT_S = 15.0


# --- measuring one subprocess -------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One finished subprocess: its CPU time (from rusage), wall time, exit code and output."""

    cpu_s: float  # user + sys of the process itself (and any children it waited for)
    user_s: float
    sys_s: float
    wall_s: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], *, timeout_s: float, cwd: Path | None = None) -> Measured:
    """Run ``cmd`` to completion (killed after ``timeout_s``) and return its resource use.

    stdout/stderr go to temporary files rather than pipes, so this thread can block in
    ``os.wait4`` (which returns the child's rusage) without a pipe-buffer deadlock.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall_s = time.perf_counter() - start
        # Tell Popen the child is reaped so it never waits for it again.
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Measured(
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        wall_s=wall_s,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
    )


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user+sys) a live process has used so far, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" that ends the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the trivial server -------------------------------------------------------------------


class TrivialServer:
    """``bench/trivial_server.py`` in its own process; stopped by closing its stdin."""

    def __init__(self, *, cpu: int | None, max_seconds: float) -> None:
        cmd = [sys.executable, str(SERVER_SCRIPT), "--port", "0"]
        cmd += ["--max-seconds", f"{max_seconds:.0f}"]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.port = self._read_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_port(self) -> int:
        assert self.proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.proc.stdout.readline().decode()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(SERVER_START_TIMEOUT_S)
        if not result or not result[0].startswith("PORT "):
            self.stop()
            raise RuntimeError(f"trivial server did not start: {result!r}")
        return int(result[0].split()[1])

    def cpu_s(self) -> float | None:
        return process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# --- the clients --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """The load every client is asked to generate (same for all, so rows compare)."""

    users: int
    duration_s: float
    rate_per_s: float
    max_in_flight: int


@dataclass(frozen=True)
class Parsed:
    """What a client's own output says about a run."""

    requests: int  # came due / were sent (agentload: counts.requests)
    ok: int
    achieved_per_s: float  # requests sent per second of the issue window


class Client:
    """One client under test: how to run it in a mode, and how to read its output."""

    name = "?"
    modes: tuple[str, ...] = MODES

    def run_cmd(self, mode: str, workdir: Path, tag: str) -> list[str]:
        raise NotImplementedError

    def fixed_cost_cmd(self, workdir: Path, tag: str) -> list[str]:
        """A run of a single request: start-up + one request + shut-down (subtracted)."""
        raise NotImplementedError

    def startup_cmd(self) -> list[str]:
        """Start-up and imports only (reported for reference, not subtracted)."""
        raise NotImplementedError

    def parse(self, measured: Measured) -> Parsed:
        raise NotImplementedError


class AgentloadClient(Client):
    """``agentload run`` on a generated scenario, exactly as a user runs it."""

    name = "agentload"

    def __init__(self, exe: str, url: str, load: Load, workdir: Path) -> None:
        self.exe = exe
        target = (
            f'target: {{base_url: "{url}", protocol: http}}\nrequest: {{method: GET, path: /}}\n'
        )
        self.scenarios = {
            "closed": self._write(
                workdir / "closed.yaml",
                "bench-closed",
                target,
                f"load: {{model: closed, users: {load.users}, duration: {load.duration_s:g}s,"
                " grace: 5s}\n",
            ),
            "rate": self._write(
                workdir / "rate.yaml",
                "bench-rate",
                target,
                f"load: {{model: open, arrival: constant, rate: {load.rate_per_s:g}/s,"
                f" duration: {load.duration_s:g}s, max_in_flight: {load.max_in_flight},"
                " grace: 5s}\n",
            ),
            "fixed": self._write(
                workdir / "one.yaml",
                "bench-one",
                target,
                "load: {model: closed, users: 1, requests: 1, grace: 5s}\n",
            ),
        }

    @staticmethod
    def _write(path: Path, name: str, target: str, load: str) -> Path:
        path.write_text(f"name: {name}\n{target}{load}")
        return path

    def _run(self, scenario: Path, workdir: Path, tag: str) -> list[str]:
        out = workdir / "runs" / tag  # must not exist yet: agentload refuses to overwrite
        return [self.exe, "run", str(scenario), "--quiet", "--json", "--out", str(out)]

    def run_cmd(self, mode: str, workdir: Path, tag: str) -> list[str]:
        return self._run(self.scenarios[mode], workdir, tag)

    def fixed_cost_cmd(self, workdir: Path, tag: str) -> list[str]:
        return self._run(self.scenarios["fixed"], workdir, tag)

    def startup_cmd(self) -> list[str]:
        return [self.exe, "validate", str(self.scenarios["closed"])]

    def parse(self, measured: Measured) -> Parsed:
        summary = json.loads(measured.stdout)
        return Parsed(
            requests=int(summary["counts"]["requests"]),
            ok=int(summary["counts"]["ok"]),
            achieved_per_s=float(summary["rate"]["achieved_per_s"] or 0.0),
        )


class AiohttpClient(Client):
    """The plain aiohttp + uvloop loop in ``aiohttp_worker`` below (same Python, same venv)."""

    name = "aiohttp"

    def __init__(self, url: str, load: Load) -> None:
        self.url = url
        self.load = load

    def _cmd(self, mode: str, max_requests: int | None = None) -> list[str]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "aiohttp-worker", self.url, mode]
        cmd += ["--users", str(self.load.users), "--duration", f"{self.load.duration_s:g}"]
        cmd += [
            "--rate",
            f"{self.load.rate_per_s:g}",
            "--max-in-flight",
            str(self.load.max_in_flight),
        ]
        if max_requests is not None:
            cmd += ["--max-requests", str(max_requests)]
        return cmd

    def run_cmd(self, mode: str, workdir: Path, tag: str) -> list[str]:
        return self._cmd(mode)

    def fixed_cost_cmd(self, workdir: Path, tag: str) -> list[str]:
        return self._cmd("closed", max_requests=1)

    def startup_cmd(self) -> list[str]:
        return [sys.executable, "-c", "import aiohttp, uvloop"]

    def parse(self, measured: Measured) -> Parsed:
        result = json.loads(measured.stdout)
        return Parsed(
            requests=int(result["requests"]),
            ok=int(result["ok"]),
            achieved_per_s=float(result["achieved_per_s"]),
        )


LOCUSTFILE = """\
from locust import FastHttpUser, task


class Bench(FastHttpUser):
    @task
    def get(self):
        self.client.get("/")
"""


class LocustClient(Client):
    """Locust FastHttpUser, headless, closed mode only. Used only when locust is importable.

    Not exercised where this benchmark was written (locust was not installed there); the
    ``--json`` output format (a list of stats entries) is Locust's since 2.15.
    """

    name = "locust"
    modes = ("closed",)

    def __init__(self, url: str, load: Load, workdir: Path) -> None:
        self.url = url
        self.load = load
        self.locustfile = workdir / "locustfile.py"
        self.locustfile.write_text(LOCUSTFILE)

    def _cmd(self, users: int, duration_s: float) -> list[str]:
        return [
            sys.executable, "-m", "locust", "-f", str(self.locustfile), "--headless",
            "-u", str(users), "-r", str(max(users, 1000)), "-t", f"{duration_s:g}s",
            "--host", self.url, "--json", "--only-summary", "--stop-timeout", "5",
            "--loglevel", "ERROR",
        ]  # fmt: skip

    def run_cmd(self, mode: str, workdir: Path, tag: str) -> list[str]:
        return self._cmd(self.load.users, self.load.duration_s)

    def fixed_cost_cmd(self, workdir: Path, tag: str) -> list[str]:
        # Locust has no "one request" option; one user for 1 s over-counts the fixed cost a
        # little (its requests are charged to start-up), so Locust's µs/request is a lower bound.
        return self._cmd(1, 1.0)

    def startup_cmd(self) -> list[str]:
        return [sys.executable, "-m", "locust", "--version"]

    def parse(self, measured: Measured) -> Parsed:
        start = measured.stdout.find("[")
        entries = json.loads(measured.stdout[start:]) if start >= 0 else []
        requests = sum(int(e.get("num_requests", 0)) for e in entries)
        failures = sum(int(e.get("num_failures", 0)) for e in entries)
        t0 = min((float(e["start_time"]) for e in entries), default=0.0)
        t1 = max((float(e["last_request_timestamp"] or 0) for e in entries), default=0.0)
        return Parsed(
            requests=requests,
            ok=requests - failures,
            achieved_per_s=requests / (t1 - t0) if t1 > t0 else 0.0,
        )


# --- the plain aiohttp worker (runs in its own process) -------------------------------------


def aiohttp_worker(argv: Sequence[str]) -> int:
    """``client_overhead.py aiohttp-worker URL {closed,rate}``: print one JSON result line."""
    parser = argparse.ArgumentParser(prog="client_overhead.py aiohttp-worker")
    parser.add_argument("url")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--max-requests", type=int, default=10_000_000)
    args = parser.parse_args(argv)

    import aiohttp  # imported here: the parent process never needs them
    import uvloop

    counts = {"requests": 0, "ok": 0, "errors": 0, "dropped": 0}
    sends: list[float] = []  # time of the first and the latest send

    def sent(now: float) -> None:
        counts["requests"] += 1
        if not sends:
            sends.append(now)
        sends[1:] = [now]

    async def one(session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(args.url) as response:
                await response.read()
                counts["ok" if response.status == 200 else "errors"] += 1
        except (aiohttp.ClientError, OSError):
            counts["errors"] += 1

    async def closed(session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + args.duration

        async def user() -> None:
            while (now := time.monotonic()) < deadline and counts["requests"] < args.max_requests:
                sent(now)
                await one(session)

        await asyncio.gather(*(user() for _ in range(args.users)))

    async def rate(session: aiohttp.ClientSession) -> None:
        # Constant arrivals at absolute times t0 + i/rate; a late start does not shift the rest.
        total = min(int(args.rate * args.duration), args.max_requests)
        in_flight: set[asyncio.Task[None]] = set()
        t0 = time.monotonic()
        for i in range(total):
            delay = t0 + i / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(in_flight) >= args.max_in_flight:
                counts["dropped"] += 1
                continue
            sent(time.monotonic())
            task = asyncio.ensure_future(one(session))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=max(args.users, args.max_in_flight))
        async with aiohttp.ClientSession(connector=connector) as session:
            await (closed if args.mode == "closed" else rate)(session)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    window = sends[-1] - sends[0] if len(sends) == 2 else 0.0
    achieved = counts["requests"] / window if window > 0 else 0.0
    print(json.dumps({**counts, "achieved_per_s": achieved}))
    return 0


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured run of one client in one mode."""

    client: str
    mode: str
    run: int
    requests: int
    ok: int
    achieved_per_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    wall_s: float
    client_util: float  # CPU seconds / wall seconds of the client process
    server_util: float | None  # the same for the server over the run (is it the bottleneck?)
    cpu_us_per_request: float | None = None  # filled in once the fixed cost is known


@dataclass
class ClientResult:
    name: str
    startup_cpu_s: list[float] = field(default_factory=list)  # import-only, for reference
    fixed_cpu_s: list[float] = field(default_factory=list)  # one-request run, subtracted
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None


def measure_sample(
    client: Client, mode: str, run: int, server: TrivialServer, workdir: Path, timeout_s: float
) -> Sample:
    server_before = server.cpu_s()
    measured = run_measured(
        client.run_cmd(mode, workdir, f"{client.name}-{mode}-{run}"), timeout_s=timeout_s
    )
    server_after = server.cpu_s()
    if measured.returncode not in (0, 1):  # agentload: 1 = thresholds failed (none set here)
        raise RuntimeError(
            f"{client.name} {mode} exited {measured.returncode}: {measured.stderr[-2000:]}"
        )
    parsed = client.parse(measured)
    server_util = None
    if server_before is not None and server_after is not None:
        server_util = (server_after - server_before) / measured.wall_s
    return Sample(
        client=client.name,
        mode=mode,
        run=run,
        requests=parsed.requests,
        ok=parsed.ok,
        achieved_per_s=parsed.achieved_per_s,
        cpu_s=measured.cpu_s,
        user_s=measured.user_s,
        sys_s=measured.sys_s,
        wall_s=measured.wall_s,
        client_util=measured.cpu_s / measured.wall_s,
        server_util=server_util,
    )


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def benchmark(
    clients: Sequence[Client],
    results: dict[str, ClientResult],
    server: TrivialServer,
    workdir: Path,
    load: Load,
    runs: int,
    log: Callable[[str], None],
) -> None:
    """Interleave clients and modes inside each run, so slow drifts hit every row alike."""
    timeout_s = load.duration_s + SLACK_S
    for run in range(1, runs + 1):
        for client in clients:
            result = results[client.name]
            startup = run_measured(client.startup_cmd(), timeout_s=SLACK_S)
            result.startup_cpu_s.append(startup.cpu_s)
            fixed = run_measured(
                client.fixed_cost_cmd(workdir, f"{client.name}-one-{run}"), timeout_s=timeout_s
            )
            if fixed.returncode not in (0, 1):
                raise RuntimeError(
                    f"{client.name} fixed-cost run exited {fixed.returncode}: "
                    f"{fixed.stderr[-2000:]}"
                )
            result.fixed_cpu_s.append(fixed.cpu_s)
            for mode in client.modes:
                sample = measure_sample(client, mode, run, server, workdir, timeout_s)
                result.samples.append(sample)
                log(
                    f"  run {run}/{runs} {client.name:9} {mode:6} {sample.ok:7d} ok "
                    f"{sample.achieved_per_s:8.0f} req/s  CPU {sample.cpu_s:6.2f} s "
                    f"(client {sample.client_util:4.0%}, server {fmt_pct(sample.server_util)})"
                )
    # Per-request CPU: subtract each client's median fixed cost from every run.
    for result in results.values():
        fixed_s = median(result.fixed_cpu_s) or 0.0
        for sample in result.samples:
            if sample.ok > 0:
                sample.cpu_us_per_request = (sample.cpu_s - fixed_s) / sample.ok * 1e6


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def fmt_num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[list[str]], right: set[int]) -> str:
    """A plain aligned text table; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def summarize(results: dict[str, ClientResult], runs: int) -> tuple[str, list[dict[str, Any]]]:
    """The medians table (with ratios to aiohttp), the fixed costs, and every run's values."""
    baseline: dict[str, tuple[float | None, float | None]] = {}
    medians: list[dict[str, Any]] = []
    for result in results.values():
        for mode in MODES:
            samples = [s for s in result.samples if s.mode == mode]
            if not samples:
                continue
            per_req = [s.cpu_us_per_request for s in samples if s.cpu_us_per_request is not None]
            servers = [s.server_util for s in samples if s.server_util is not None]
            row: dict[str, Any] = {
                "client": result.name,
                "mode": mode,
                "ok_requests": median([s.ok for s in samples]),
                "errors": sum(s.requests - s.ok for s in samples),
                "achieved_per_s": median([s.achieved_per_s for s in samples]),
                "cpu_us_per_request": median(per_req),
                "client_util": median([s.client_util for s in samples]),
                "server_util": median(servers),
            }
            # What one free core could sustain at this cost: less sensitive to a noisy machine
            # than the achieved rate, which also depends on how much of the core the client got.
            cpu_us = row["cpu_us_per_request"]
            row["per_core_per_s"] = 1e6 / cpu_us if cpu_us else None
            medians.append(row)
            if result.name == "aiohttp":
                baseline[mode] = (row["achieved_per_s"], cpu_us)

    def ratio(value: float | None, base: float | None) -> float | None:
        return value / base if value is not None and base else None

    rows = [
        ["client", "mode", "ok requests", "achieved req/s", "CPU µs/request",
         "req/s ÷ aiohttp", "CPU ÷ aiohttp", "1e6/CPU µs", "client CPU", "server CPU"],
    ]  # fmt: skip
    for row in medians:
        base_rate, base_cpu = baseline.get(row["mode"], (None, None))
        row["rate_ratio"] = ratio(row["achieved_per_s"], base_rate)
        row["cpu_ratio"] = ratio(row["cpu_us_per_request"], base_cpu)
        rows.append(
            [
                row["client"],
                row["mode"],
                fmt_num(row["ok_requests"], ".0f")
                + (f" ({row['errors']} err)" if row["errors"] else ""),
                fmt_num(row["achieved_per_s"], ",.0f"),
                fmt_num(row["cpu_us_per_request"], ".1f"),
                fmt_num(row["rate_ratio"], ".2f"),
                fmt_num(row["cpu_ratio"], ".2f"),
                fmt_num(row["per_core_per_s"], ",.0f"),
                fmt_pct(row["client_util"]),
                fmt_pct(row["server_util"]),
            ]
        )
    right = set(range(2, len(rows[0])))
    out = [
        f"Medians of {runs} runs (ratios are ratios of the medians; 1e6/CPU µs = requests one "
        "free core could sustain at that cost; client/server CPU = CPU time / wall time):",
        table(rows, right),
    ]
    out += [f"{r.name}: skipped ({r.skipped})" for r in results.values() if r.skipped]

    fixed_rows = [["client", "start-up only (not subtracted)", "1-request run (subtracted)"]]
    for result in results.values():
        if not result.skipped:
            fixed_rows.append(
                [
                    result.name,
                    f"{fmt_num(median(result.startup_cpu_s), '.3f')} s",
                    f"{fmt_num(median(result.fixed_cpu_s), '.3f')} s",
                ]
            )
    out += ["", "Fixed CPU cost per process (median):", table(fixed_rows, {1, 2})]
    out += [
        "  agentload start-up only = `agentload validate SCENARIO`; 1-request run = "
        "`agentload run` of a 1-user, 1-request scenario (start-up, imports, run dir, summary).",
        '  aiohttp start-up only = `python -c "import aiohttp, uvloop"`; 1-request run = '
        "the worker with --max-requests 1.",
    ]

    run_rows = [
        ["client", "mode", "run", "ok", "errors", "req/s", "CPU s", "user s", "sys s", "wall s",
         "CPU µs/req", "client CPU", "server CPU"],
    ]  # fmt: skip
    for result in results.values():
        for s in result.samples:
            run_rows.append(
                [
                    s.client, s.mode, str(s.run), str(s.ok), str(s.requests - s.ok),
                    f"{s.achieved_per_s:,.0f}", f"{s.cpu_s:.2f}", f"{s.user_s:.2f}",
                    f"{s.sys_s:.2f}", f"{s.wall_s:.2f}",
                    fmt_num(s.cpu_us_per_request, ".1f"), fmt_pct(s.client_util),
                    fmt_pct(s.server_util),
                ]
            )  # fmt: skip
    out += ["", "Every run:", table(run_rows, set(range(2, len(run_rows[0]))))]
    for result in results.values():
        if result.fixed_cpu_s:
            fixed_text = ", ".join(f"{v:.3f}" for v in result.fixed_cpu_s)
            startup_text = ", ".join(f"{v:.3f}" for v in result.startup_cpu_s)
            out.append(
                f"{result.name}: 1-request run CPU s [{fixed_text}]; start-up only [{startup_text}]"
            )
    return "\n".join(out), medians


# --- cProfile of one agentload run (optional) -----------------------------------------------


def profile_worker(argv: Sequence[str]) -> int:
    """``client_overhead.py profile-worker PROF -- AGENTLOAD-ARGS``: the CLI under cProfile.

    The profiler's timer is the process CPU clock (``time.process_time``), not the wall
    clock that ``python -m cProfile`` uses: on a shared machine wall time also counts time
    the process was not running, and idle time in the event loop's poll would dominate the
    open-loop profile. The CLI is imported before profiling starts, so start-up imports are
    left out and the profile is (almost only) the run itself.
    """
    import cProfile

    dest, args = argv[0], list(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    from agentload.cli.main import main as cli_main

    sys.argv = ["agentload", *args]
    profiler = cProfile.Profile(time.process_time)
    code: int | str | None = 0
    profiler.enable()
    try:
        cli_main()
    except SystemExit as exc:
        code = exc.code
    finally:
        profiler.disable()
        profiler.dump_stats(dest)
    return code if isinstance(code, int) else 1


def profile_agentload(
    client: AgentloadClient, mode: str, workdir: Path, dest: Path, top: int, timeout_s: float
) -> str:
    """Run ``agentload run`` once under cProfile (CPU clock); its top costs per ok request."""
    import pstats

    dest.parent.mkdir(parents=True, exist_ok=True)
    out_dir = workdir / "runs" / f"profile-{mode}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "profile-worker", str(dest), "--"]
    cmd += ["run", str(client.scenarios[mode]), "--quiet", "--json", "--out", str(out_dir)]
    measured = run_measured(cmd, timeout_s=timeout_s)
    if measured.returncode not in (0, 1):
        raise RuntimeError(f"profiled run exited {measured.returncode}: {measured.stderr[-2000:]}")
    ok = max(client.parse(measured).ok, 1)
    stats: Any = pstats.Stats(str(dest))
    entries: list[tuple[float, float, int, str]] = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        entries.append((cumtime, tottime, ncalls, f"{short_path(filename)}:{line}({func})"))
    profiled_s = max((e[0] for e in entries), default=0.0)

    def rows(by_own: bool) -> list[list[str]]:
        key = 1 if by_own else 0
        ordered = sorted(entries, key=lambda e: e[key], reverse=True)[:top]
        head = ["own µs/req", "cum µs/req"] if by_own else ["cum µs/req", "own µs/req"]
        out = [[*head, "calls/req", "function"]]
        for cumtime, tottime, ncalls, name in ordered:
            first, second = (tottime, cumtime) if by_own else (cumtime, tottime)
            out.append(
                [f"{first / ok * 1e6:.1f}", f"{second / ok * 1e6:.1f}", f"{ncalls / ok:.2f}", name]
            )
        return out

    return "\n".join(
        [
            f"cProfile ({mode} mode, CPU-clock timer, imports excluded): {ok} ok requests, "
            f"{profiled_s:.2f} s CPU profiled = {profiled_s / ok * 1e6:.0f} µs/request under the "
            f"profiler (which inflates it: compare shares, not absolutes); saved to {dest}",
            "(calls/req counts every resumption of a coroutine as a call)",
            "",
            "Top by cumulative time:",
            table(rows(by_own=False), {0, 1, 2}),
            "",
            "Top by own time:",
            table(rows(by_own=True), {0, 1, 2}),
        ]
    )


# --- in-process cost of each record sink (optional) ------------------------------------------


def sink_costs(repeats: int = 5, count: int = 20_000) -> str:
    """CPU µs per record of each step agentload runs for one completed ok HTTP request.

    Uses agentload's own classes (from the venv this script runs in) on a typical record,
    outside any event loop: the cost of recording a request, separate from sending it.
    Best of ``repeats`` loops of ``count`` records, on the process CPU clock.
    """
    from agentload.clock import MonotonicClock
    from agentload.metrics.aggregate import RunAggregator
    from agentload.metrics.window import RollingWindow
    from agentload.records.record import Outcome, RequestRecord
    from agentload.records.rundir import RecordWriter

    def make(seq: int) -> RequestRecord:
        # What Engine._emit builds for an ok plain-HTTP response of ~5 ms.
        t = seq * 200_000
        return RequestRecord(
            seq=seq, worker=0, action="http", user=seq % 64, intended_at=t, sent_at=t + 20_000,
            first_byte_at=t + 4_000_000, first_token_at=None, done_at=t + 4_100_000,
            outcome=Outcome.OK, error_kind=None, error_message=None, http_status=200,
            input_tokens=None, output_tokens=None, tokens_approx=False, chunks=0, itl_ms=(),
            phases_ms={},
        )  # fmt: skip

    records = [make(i) for i in range(count)]
    results: list[tuple[str, float]] = []

    def best(name: str, setup: Callable[[], Callable[[RequestRecord], object]]) -> None:
        times = []
        for _ in range(repeats):
            add = setup()
            start = time.process_time()
            for record in records:
                add(record)
            times.append(time.process_time() - start)
        results.append((name, min(times) / count * 1e6))

    best("RequestRecord(...) (Engine._emit)", lambda: lambda r: make(r.seq))
    with tempfile.TemporaryDirectory() as tmp:
        writers: list[RecordWriter] = []

        def writer() -> Callable[[RequestRecord], object]:
            w = RecordWriter(Path(tmp) / f"records-{len(writers)}.jsonl")
            writers.append(w)
            return w.add

        best("RecordWriter.add (msgspec JSON line)", writer)
        for w in writers:
            w.close()
    best("RunAggregator.add (5 histograms)", lambda: RunAggregator().add)

    def window() -> Callable[[RequestRecord], object]:
        # What api._WindowSink does: place the record in the live window at "now".
        rolling, clock = RollingWindow(), MonotonicClock()
        return lambda r: rolling.add(r, clock.now_ns())

    best("RollingWindow.add (live view, 1 histogram)", window)
    from agentload.metrics.histogram import LatencyHistogram

    hist = LatencyHistogram()
    best("  of which one LatencyHistogram.record_ms", lambda: lambda r: hist.record_ms(4.08))
    total = sum(cost for name, cost in results if not name.startswith(" "))
    rows = [["step (per ok record)", "CPU µs"]]
    rows += [[name, f"{cost:.2f}"] for name, cost in results]
    rows.append(["total of the steps above", f"{total:.2f}"])
    title = f"Recording cost per request, in-process (best of {repeats} x {count:,} records):"
    return f"{title}\n{table(rows, {1})}"


def short_path(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- entry point ----------------------------------------------------------------------------


def find_agentload(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "agentload"
    if beside.exists():
        return str(beside)
    found = shutil.which("agentload")
    if not found:
        raise SystemExit(
            "agentload not found: run with the project's venv python or pass --agentload"
        )
    return found


def pick_cores(pin: bool) -> tuple[int | None, int | None, str]:
    """(server core, client core, a sentence for the output)."""
    if not pin:
        return None, None, "not pinned (--no-pin)"
    if not hasattr(os, "sched_setaffinity"):
        return None, None, "not pinned (os.sched_setaffinity is not available here)"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None, f"not pinned (only {len(cores)} core available)"
    return cores[0], cores[1], f"server pinned to core {cores[0]}, clients to core {cores[1]}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["aiohttp-worker"]:
        return aiohttp_worker(argv[1:])
    if argv[:1] == ["profile-worker"]:
        return profile_worker(argv[1:])

    parser = argparse.ArgumentParser(
        description="CPU time per request and maximum request rate of `agentload run` vs a "
        "plain aiohttp+uvloop loop (and Locust FastHttpUser if installed), against a trivial "
        "local HTTP server."
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per client and mode (default 3)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    parser.add_argument("--users", type=int, default=64, help="closed mode users (default 64)")
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="rate mode, req/s (default 2000)"
    )
    parser.add_argument(
        "--max-in-flight", type=int, default=256, help="rate mode cap (default 256)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="write results as JSON"
    )
    parser.add_argument(
        "--agentload", default=None, help="the agentload executable (default: beside python)"
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin server and clients to cores"
    )
    parser.add_argument("--no-locust", action="store_true", help="skip Locust even if installed")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="also run agentload once per mode under cProfile, save the profiles "
                        "in DIR and print the top costs per request")  # fmt: skip
    parser.add_argument("--no-sinks", action="store_true",
                        help="skip the in-process cost of agentload's record sinks")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary run directories")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be between 1 and 50")
    if not 0.5 <= args.duration <= 300:
        parser.error("--duration must be between 0.5 and 300 seconds")

    load = Load(args.users, args.duration, args.rate, args.max_in_flight)
    server_core, client_core, pin_note = pick_cores(not args.no_pin)
    # Upper bound on the whole benchmark, so the server can never outlive it by much.
    budget_s = args.runs * 8 * (args.duration + SLACK_S) + 600

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="agentload-bench-"))
    server = TrivialServer(cpu=server_core, max_seconds=budget_s)
    try:
        if client_core is not None:
            os.sched_setaffinity(0, {client_core})  # children (the clients) inherit it
        agentload = AgentloadClient(find_agentload(args.agentload), server.url, load, workdir)
        clients: list[Client] = [agentload, AiohttpClient(server.url, load)]
        results = {c.name: ClientResult(c.name) for c in clients}
        if args.no_locust:
            results["locust"] = ClientResult("locust", skipped="--no-locust")
        elif importlib.util.find_spec("locust") is None:
            results["locust"] = ClientResult("locust", skipped="locust is not installed")
        else:
            locust = LocustClient(server.url, load, workdir)
            clients.append(locust)
            results["locust"] = ClientResult("locust")

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
        benchmark(clients, results, server, workdir, load, args.runs, log)
        text, medians = summarize(results, args.runs)
        extras: list[str] = []
        if not args.no_sinks:
            log("measuring the in-process cost of agentload's record sinks ...")
            try:
                extras.append(sink_costs())
            except Exception as exc:  # internals move; the main table must not depend on them
                extras.append(f"Recording cost per request: unavailable ({exc!r})")
        if args.profile is not None:
            for mode in MODES:
                log(f"profiling one agentload {mode} run under cProfile ...")
                dest = args.profile / f"agentload-{mode}.prof"
                extras.append(
                    profile_agentload(agentload, mode, workdir, dest, 25, load.duration_s + SLACK_S)
                )
        print("\n".join(header))
        print()
        print(text)
        for extra in extras:
            print()
            print(extra)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {
                        "header": header,
                        "load": asdict(load),
                        "runs": args.runs,
                        "pinning": pin_note,
                        "medians": medians,
                        "clients": {
                            name: {
                                "skipped": r.skipped,
                                "startup_cpu_s": r.startup_cpu_s,
                                "fixed_cpu_s": r.fixed_cpu_s,
                                "samples": [asdict(s) for s in r.samples],
                            }
                            for name, r in results.items()
                        },
                    },
                    indent=2,
                )
                + "\n"
            )
    finally:
        server.stop()
        if args.keep:
            log(f"run directories kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
