"""Resident memory of ``agentload run`` per concurrent streaming request, and at baseline.

    .venv/bin/python bench/memory_per_stream.py --streams 1000,4000,10000 --runs 3

Each run holds N streams open at once (closed model, N users, one request each) against
``stream_server.py`` sending ``--tokens`` chunks ``--interval-ms`` apart, so every stream
is in flight for the whole middle of the run. Two figures per run:

- ``peak RSS``: the kernel's peak resident set of the client process (``ru_maxrss``), the
  end of the run included (summary, report.html, the terminal summary);
- ``load-phase RSS``: the largest resident set the generator recorded of itself while it
  sent (``generator.rss_bytes`` in the run's telemetry.jsonl, one sample a second): what
  it holds while generating load, before the end-of-run analysis.

    KB per stream = (peak RSS with N streams − peak RSS with 1 stream) / N

and the 1-stream run is the baseline (interpreter, imports, one connection, run directory).
``held`` is how many of the N streams were in flight at the same time, from the records:
the most requests whose [sent, done] intervals overlap. ``--streams ""`` measures only the
baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchlib import (
    STREAM_SERVER,
    agentload_exe,
    log,
    machine,
    median,
    now_iso,
    pick_cores,
    record_intervals,
    run_measured,
    server,
    table,
    write_result,
)


def held_in_flight(run_dir: Path) -> int:
    """The largest number of requests in flight at one instant."""
    events = sorted(e for s, d in record_intervals(run_dir) for e in ((s, 1), (d, -1)))
    held = peak = 0
    for _, step in events:
        held += step
        peak = max(peak, held)
    return peak


def load_phase_rss_kb(run_dir: Path) -> float | None:
    """The largest ``generator.rss_bytes`` sample of a run (KiB, as ``ru_maxrss``)."""
    path = run_dir / "telemetry.jsonl"
    if not path.exists():
        return None
    rss = [
        sample["values"]["generator.rss_bytes"]
        for sample in map(json.loads, path.read_text().splitlines())
        if "generator.rss_bytes" in sample.get("values", {})
    ]
    return max(rss) / 1024 if rss else None


def mb(kb: float) -> str:
    return "—" if kb != kb else f"{kb / 1024:.1f}"  # NaN: no run gave a figure


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="resident memory per in-flight stream")
    add = parser.add_argument
    add("--streams", default="1000,4000,10000", help="concurrent streams per run")
    add("--tokens", type=int, default=10)
    add("--interval-ms", type=float, default=500.0)
    add("--runs", type=int, default=3)
    add("--json", type=Path, default=None)
    add("--no-pin", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.streams.split(",") if n]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(counts, default=1) * 2 + 256  # the server's sockets and the client's
    if soft < need and hard >= need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))  # children inherit it
    server_cpu, client_cpu, pin_note = pick_cores(not args.no_pin)
    work = Path(tempfile.mkdtemp(prefix="agentload-memory-bench-"))
    stream_s = args.tokens * args.interval_ms / 1000
    peaks: dict[int, list[float]] = {}
    loads: dict[int, list[float]] = {}
    helds: dict[int, list[int]] = {}
    with server(
        STREAM_SERVER,
        *("--tokens", str(args.tokens), "--interval-ms", str(args.interval_ms)),
        cpu=server_cpu,
    ) as url:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        for run in range(args.runs):
            for n in [1, *counts]:
                scen = work / f"s{n}.yaml"
                scen.write_text(
                    "name: bench-memory\n"
                    f'target: {{base_url: "{url}", protocol: openai-chat}}\n'
                    f"request: {{path: /v1/chat/completions, prompt_tokens: 8, "
                    f"max_tokens: {args.tokens}, stream: true}}\n"
                    f"load: {{model: closed, users: {n}, requests: {n}, grace: 60s}}\n"
                )
                out = work / "runs" / f"{n}-{run}"
                cmd = [agentload_exe(), "run", str(scen), "--quiet", "--json", "--out", str(out)]
                m = run_measured(cmd, stream_s * 6 + 120)
                if m.rc not in (0, 1) or not (out / "records.jsonl").exists():
                    log(f"{n} streams run {run} failed (exit {m.rc}): {m.stderr}")
                    continue
                ok = json.loads(m.stdout)["counts"]["ok"]
                held = held_in_flight(out)
                load_kb = load_phase_rss_kb(out)
                peaks.setdefault(n, []).append(m.max_rss_kb)
                if load_kb is not None:
                    loads.setdefault(n, []).append(load_kb)
                helds.setdefault(n, []).append(held)
                log(
                    f"{n} streams run {run}: peak RSS {m.max_rss_kb / 1024:.1f} MB, load-phase "
                    f"RSS {mb(load_kb or float('nan'))} MB, {ok} ok, held {held}"
                )
    base_kb = median(peaks.get(1, []))
    base_load_kb = median(loads.get(1, []))
    rows = [
        [
            "1 (baseline)",
            mb(base_load_kb),
            mb(base_kb),
            "—",
            f"{median(helds.get(1, [])):.0f}",
        ]
    ]
    per_stream = {}
    for n in counts:
        if n not in peaks:
            rows.append([f"{n:,}", "—", "—", "—", "failed"])
            continue
        peak_kb = median(peaks[n])
        per_stream[n] = (peak_kb - base_kb) / n
        rows.append(
            [
                f"{n:,}",
                mb(median(loads.get(n, []))),
                mb(peak_kb),
                f"{per_stream[n]:.1f}",
                f"{median(helds[n]):,.0f}",
            ]
        )
    header = [
        f"memory per stream — {now_iso()} — {machine()}; {pin_note}",
        f"streams of {args.tokens} chunks {args.interval_ms:g} ms apart; medians of "
        f"{args.runs} runs; load-phase RSS: the generator's own samples while sending; peak RSS "
        "(ru_maxrss): the whole process, end-of-run summary and report included",
    ]
    text = table(
        ["streams", "load-phase RSS MB", "peak RSS MB", "KB per stream", "held in flight"], rows
    )
    print("\n".join(header) + "\n\n" + text)
    write_result(
        args.json,
        "memory_per_stream",
        {
            "header": header,
            "table": text,
            "baseline_mb": base_kb / 1024,
            "baseline_load_phase_mb": base_load_kb / 1024,
            "kb_per_stream": per_stream,
            "held_in_flight": {n: median(held) for n, held in helds.items() if n > 1},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
