"""Open-loop schedule accuracy of ``agentload run``: achieved rate and schedule lag per rate.

    .venv/bin/python bench/schedule_accuracy.py --rates 500,1000,2000,5000 --duration 5 --runs 3

Poisson arrivals against ``trivial_server.py`` (plain keep-alive requests), then constant
arrivals of 1-second streams against ``stream_server.py`` (``--stream-rate``, 50 chunks
20 ms apart). Every figure comes from the run's own ``summary.json``: achieved rate (sent
per second of the load window), schedule lag (sent − intended) and its two parts,
scheduler lag (timer fired late) and dispatch lag (released to written). The client's CPU
(rusage, start-up included) is reported as a share of its wall time: near 100% means the
generator, not the target, set the pace. ``others on its core``: the share of the run's wall
time that other processes (and the hypervisor's steal) used the client's core, from
``/proc/stat``; where it is high, late sends are mostly the client waiting for its CPU
(``bench/schedule_lag_trace.py`` shows it per late send). ``vs target`` compares with the
nominal rate (a Poisson schedule of a few seconds differs from it by chance: ±1/√n);
``vs schedule`` with the rate the seeded schedule itself asked for in the load window.

``--baseline-src DIR`` also runs the ``agentload`` package found in DIR (a copy of an
earlier ``src``), alternating with the current one run by run, so both see the same
neighbours on a shared machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchlib import (
    STREAM_SERVER,
    TRIVIAL_SERVER,
    agentload_exe,
    log,
    machine,
    median,
    now_iso,
    pick_cores,
    run_measured,
    server,
    table,
    write_result,
)


def scenario(path: Path, url: str, load: str, request: str, protocol: str) -> Path:
    path.write_text(
        "name: bench-schedule\n"
        f'target: {{base_url: "{url}", protocol: {protocol}}}\n'
        f"request: {request}\n"
        f"load: {load}\n"
    )
    return path


def core_busy_s(cpu: int | None) -> float:
    """Seconds the core has been busy (all processes, steal included) since boot; 0 unknown."""
    if cpu is None:
        return 0.0
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            name, *ticks = line.split()
            if name == f"cpu{cpu}":
                idle = int(ticks[3]) + int(ticks[4])  # idle + iowait
                return (sum(int(t) for t in ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return 0.0


def agentload_cmd(src: Path | None) -> list[str]:
    """The ``agentload`` command, or the same CLI run from the package in ``src``."""
    if src is None:
        return [agentload_exe()]
    code = f"import sys; sys.path.insert(0, {str(src)!r}); from agentload.cli.main import main; "
    return [sys.executable, "-c", code + "sys.argv[0] = 'agentload'; sys.exit(main())"]


def one_run(
    cmd: list[str], scen: Path, out: Path, timeout_s: float, client_cpu: int | None
) -> dict[str, float] | None:
    busy_before = core_busy_s(client_cpu)
    m = run_measured([*cmd, "run", str(scen), "--quiet", "--json", "--out", str(out)], timeout_s)
    # What the rest of the machine ran on the client's core meanwhile: time the client's
    # loop may have waited for its CPU (the cause of most late sends, docs/schedule-lag.md).
    others_s = max(0.0, core_busy_s(client_cpu) - busy_before - m.cpu_s)
    if m.rc not in (0, 1):  # 1: a validity warning or threshold, still a measured run
        log(f"run failed (exit {m.rc}): {m.stderr}")
        return None
    summary = json.loads(m.stdout)
    metrics = summary["metrics"]

    def p(name: str, q: str) -> float:
        value = metrics.get(name, {}).get(q)
        return float("nan") if value is None else float(value)

    return {
        "target": float(summary["rate"]["target_per_s"] or 0.0),
        "offered": float(summary["rate"]["offered_per_s"] or 0.0),
        "achieved": float(summary["rate"]["achieved_per_s"] or 0.0),
        "ok": float(summary["counts"]["ok"]),
        "lag_p50": p("schedule_lag_ms", "p50"),
        "lag_p99": p("schedule_lag_ms", "p99"),
        "sched_p99": p("scheduler_lag_ms", "p99"),
        "dispatch_p99": p("dispatch_lag_ms", "p99"),
        "cpu_share": m.cpu_s / m.wall_s,
        "others_share": others_s / m.wall_s if client_cpu is not None else float("nan"),
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="open-loop rate and schedule lag")
    add = parser.add_argument
    add("--rates", default="500,1000,2000,5000", help="Poisson rates, req/s")
    add("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    add("--stream-rate", type=float, default=200.0, help="1-second streams per s (0: skip)")
    add("--runs", type=int, default=3)
    add("--json", type=Path, default=None)
    add("--no-pin", action="store_true")
    add("--baseline-src", type=Path, default=None, help="also run the agentload package here")
    args = parser.parse_args(argv)
    variants = [("", agentload_cmd(None))]
    if args.baseline_src is not None:
        variants.insert(0, ("before: ", agentload_cmd(args.baseline_src.resolve())))
    rates = [float(r) for r in args.rates.split(",") if r]
    server_cpu, client_cpu, pin_note = pick_cores(not args.no_pin)
    work = Path(tempfile.mkdtemp(prefix="agentload-schedule-bench-"))
    timeout_s = args.duration * 4 + 60
    results: dict[str, list[dict[str, float]]] = {}
    cases: list[tuple[str, Path, Path, tuple[str, ...]]] = []
    for rate in rates:
        load = (
            f"{{arrival: poisson, rate: {rate:g}/s, duration: {args.duration:g}s, "
            f"max_in_flight: 2000, grace: 10s}}"
        )
        cases.append((f"poisson {rate:g}/s plain", TRIVIAL_SERVER, Path("plain"), (load,)))
    if args.stream_rate > 0:
        load = (
            f"{{arrival: constant, rate: {args.stream_rate:g}/s, duration: "
            f"{args.duration:g}s, max_in_flight: 2000, grace: 10s}}"
        )
        cases.append(
            (f"constant {args.stream_rate:g}/s 1-s streams", STREAM_SERVER, Path("stream"), (load,))
        )
    for script in (TRIVIAL_SERVER, STREAM_SERVER):
        mine = [c for c in cases if c[1] == script]
        if not mine:
            continue
        extra = ("--tokens", "50", "--interval-ms", "20") if script == STREAM_SERVER else ()
        with server(script, *extra, cpu=server_cpu) as url:
            if client_cpu is not None:
                os.sched_setaffinity(0, {client_cpu})
            for run, (label, cmd), (base_name, _, kind, (load,)) in itertools.product(
                range(args.runs), variants, mine
            ):
                name = label + base_name
                if kind == Path("plain"):
                    scen = scenario(
                        work / "plain.yaml", url, load, "{method: GET, path: /}", "http"
                    )
                else:
                    scen = scenario(
                        work / "stream.yaml",
                        url,
                        load,
                        "{path: /v1/chat/completions, prompt_tokens: 8, "
                        "max_tokens: 50, stream: true}",
                        "openai-chat",
                    )
                out = work / "runs" / f"{len(results)}-{run}-{name.replace(' ', '_')}"
                result = one_run(
                    cmd, scen, out.with_name(out.name.replace("/", "_")), timeout_s, client_cpu
                )
                if result is not None:
                    results.setdefault(name, []).append(result)
                    log(
                        f"{name} run {run}: achieved {result['achieved']:.1f}/s, "
                        f"lag p99 {result['lag_p99']:.2f} ms, others on the client core "
                        f"{result['others_share'] * 100:.0f}%"
                    )
    rows = []
    for name, runs in results.items():
        m = {k: median([r[k] for r in runs]) for k in runs[0]}
        err = (m["achieved"] / m["target"] - 1) * 100 if m["target"] else float("nan")
        vs_offered = (m["achieved"] / m["offered"] - 1) * 100 if m["offered"] else float("nan")
        rows.append(
            [
                name,
                f"{m['achieved']:,.1f}",
                f"{err:+.2f}%",
                f"{vs_offered:+.2f}%",
                f"{m['lag_p50']:.3f}",
                f"{m['lag_p99']:.3f}",
                f"{m['sched_p99']:.3f}",
                f"{m['dispatch_p99']:.3f}",
                f"{m['cpu_share'] * 100:.0f}%",
                f"{m['others_share'] * 100:.0f}%",
            ]
        )
    header = [
        f"schedule accuracy — {now_iso()} — {machine()}; {pin_note}",
        f"{args.duration:g} s per run, medians of {args.runs} runs; lags in ms",
    ]
    text = table(
        [
            "load",
            "achieved /s",
            "vs target",
            "vs schedule",
            "lag p50",
            "lag p99",
            "scheduler p99",
            "dispatch p99",
            "client CPU",
            "others on its core",
        ],
        rows,
    )
    print("\n".join(header) + "\n\n" + text)
    write_result(
        args.json, "schedule_accuracy", {"header": header, "table": text, "results": results}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
