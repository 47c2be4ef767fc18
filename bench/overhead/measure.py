"""The measurement loop: every client, every mode, every run, interleaved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .clients import ONE, Client
from .proc import SLACK_S, TrivialServer, run_measured
from .tables import fmt_pct, median


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
    client: Client, mode: str, run: int, server: TrivialServer, timeout_s: float
) -> Sample:
    server_before = server.cpu_s()
    measured = run_measured(client.cmd(mode, f"{client.name}-{mode}-{run}"), timeout_s=timeout_s)
    server_after = server.cpu_s()
    parsed = client.parse(measured.check(f"{client.name} {mode}").stdout)
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


def benchmark(
    clients: Sequence[Client],
    results: dict[str, ClientResult],
    server: TrivialServer,
    duration_s: float,
    runs: int,
    log: Callable[[str], None],
) -> None:
    """Interleave clients and modes inside each run, so slow drifts hit every row alike."""
    timeout_s = duration_s + SLACK_S
    for run in range(1, runs + 1):
        for client in clients:
            result = results[client.name]
            startup = run_measured(client.startup_cmd(), timeout_s=SLACK_S)
            result.startup_cpu_s.append(startup.cpu_s)
            fixed = run_measured(client.cmd(ONE, f"{client.name}-{ONE}-{run}"), timeout_s=timeout_s)
            result.fixed_cpu_s.append(fixed.check(f"{client.name} fixed-cost run").cpu_s)
            for mode in client.modes:
                sample = measure_sample(client, mode, run, server, timeout_s)
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
