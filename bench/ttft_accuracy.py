"""TTFT accuracy of ``agentload run`` near its limit: recorded first-token times against the
times the server actually wrote the first token.

    .venv/bin/python bench/ttft_accuracy.py --rates 200,1000,2000 --duration 4 --runs 3

``stream_server.py`` sends the first token ``--first-token-ms`` after each request, then a
few more, and logs the wall-clock time of every write (``--log-clock wall``). A run
directory's records are on the run clock; ``meta.json``'s ``started_at`` (microseconds) puts
them on the same wall clock. Sorted first-token times pair one to one (requests are further
apart than the errors), so ``error = recorded − written`` for every request: what the
generator adds to TTFT by reading late. ``self-check`` is what the run itself says: its
generator verdict (``meta.json`` ``telemetry.generator``: CPU, loop lag), the summary's
timestamp-precision warning (scheduler-lag p99 over 3 ms, ``analysis.validity`` rule 3a) or
its trust verdict (``trustworthy`` false: the generator fell behind, rule 3, which speaks
instead of 3a).
A run whose error p99 is over 3 ms should be flagged; the table counts the runs over it,
those flagged, and those it missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from benchlib import (
    STREAM_SERVER,
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

# analysis.validity.TIMESTAMP_WARNING_PREFIX (rule 3a), as it appears in the summary's warnings.
TIMESTAMP_WARNING = "timestamps late by up to"
P99_LIMIT_MS = 3.0  # the accuracy the generator is held to; a run above it should be flagged


def one_run(url: str, log_file: Path, rate: float, args: argparse.Namespace, out: Path) -> dict:
    scen = out.parent / f"{out.name}.yaml"
    scen.write_text(
        "name: bench-ttft\n"
        f'target: {{base_url: "{url}", protocol: openai-chat}}\n'
        "request: {path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 5, stream: true}\n"
        f"load: {{arrival: constant, rate: {rate:g}/s, duration: {args.duration:g}s, "
        "max_in_flight: 4000, grace: 10s}\n"
    )
    before = log_file.stat().st_size if log_file.exists() else 0
    m = run_measured(
        [agentload_exe(), "run", str(scen), "--quiet", "--json", "--out", str(out)],
        args.duration * 4 + 60,
    )
    meta = json.loads((out / "meta.json").read_text())
    start_ns = round(datetime.fromisoformat(meta["started_at"]).timestamp() * 1e6) * 1000
    recorded = []
    with (out / "records.jsonl").open() as f:
        for line in f:
            r = json.loads(line)
            if r.get("first_token_at") is not None:
                recorded.append(start_ns + r["first_token_at"])
    with log_file.open() as f:
        f.seek(before)
        written = [int(x.split()[2]) for x in f if x.split()[1:2] == ["0"]]
    n = min(len(recorded), len(written))
    error_ms = (np.sort(recorded)[:n] - np.sort(written)[:n]) / 1e6
    generator = meta.get("telemetry", {}).get("generator", {}) or {}
    summary = json.loads(m.stdout)
    return {
        "achieved": float(summary["rate"]["achieved_per_s"] or 0.0),
        "p50": float(np.percentile(error_ms, 50)) if n else float("nan"),
        "p99": float(np.percentile(error_ms, 99)) if n else float("nan"),
        "paired": n,
        # The run's self-check: its generator verdict, or the timestamp-precision warning
        # (scheduler-lag p99 over 3 ms) that ``analysis.validity`` rule 3a gives.
        "saturated": bool(generator.get("saturated")),
        "imprecise": any(w.startswith(TIMESTAMP_WARNING) for w in summary.get("warnings", [])),
        # rule 3 (generator fell behind, lag p99 > 10 ms) speaks instead of rule 3a
        "untrusted": summary.get("trustworthy") is False,
        "sched_p99": float((summary["metrics"].get("scheduler_lag_ms") or {}).get("p99") or 0.0),
        "cpu_share": m.cpu_s / m.wall_s,
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="TTFT error of the generator under load")
    add = parser.add_argument
    add("--rates", default="200,1000,2000", help="streamed requests per second")
    add("--duration", type=float, default=4.0)
    add("--first-token-ms", type=float, default=50.0)
    add("--runs", type=int, default=3)
    add("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    server_cpu, client_cpu, pin_note = pick_cores(True)
    work = Path(tempfile.mkdtemp(prefix="agentload-ttft-bench-"))
    log_file = work / "written.log"
    results: dict[str, list[dict]] = {}
    with server(
        STREAM_SERVER,
        "--tokens",
        "5",
        "--interval-ms",
        "10",
        "--first-token-ms",
        f"{args.first_token_ms:g}",
        "--log-times",
        str(log_file),
        "--log-clock",
        "wall",
        cpu=server_cpu,
    ) as url:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        for run in range(args.runs):
            for rate in [float(r) for r in args.rates.split(",") if r]:
                name = f"{rate:g}/s"
                try:
                    result = one_run(url, log_file, rate, args, work / f"r{rate:g}-{run}")
                except (OSError, ValueError, KeyError) as exc:
                    log(f"{name} run {run} failed: {exc!r}")
                    continue
                results.setdefault(name, []).append(result)
                log(
                    f"{name} run {run}: error p50 {result['p50']:.3f} ms, "
                    f"p99 {result['p99']:.3f} ms, scheduler-lag p99 {result['sched_p99']:.3f} ms, "
                    f"self-check saturated={result['saturated']} imprecise={result['imprecise']}"
                )
    rows = []
    for name, runs in results.items():
        over = [r["p99"] > P99_LIMIT_MS for r in runs]
        flagged = [r["saturated"] or r["imprecise"] or r.get("untrusted", False) for r in runs]
        missed = sum(o and not f for o, f in zip(over, flagged, strict=True))
        rows.append(
            [
                name,
                f"{median([r['achieved'] for r in runs]):,.1f}",
                f"{median([r['p50'] for r in runs]):.3f}",
                f"{median([r['p99'] for r in runs]):.3f}",
                f"{median([r['sched_p99'] for r in runs]):.3f}",
                f"{median([r['cpu_share'] for r in runs]) * 100:.0f}%",
                f"{sum(over)} of {len(runs)}",
                f"{sum(flagged)} of {len(runs)}" + (f" ({missed} missed)" if missed else ""),
            ]
        )
    header = [
        f"TTFT accuracy — {now_iso()} — {machine()}; {pin_note}",
        f"first token {args.first_token_ms:g} ms after the request, 5 tokens; {args.duration:g} s "
        f"per run; medians of {args.runs} runs; error = recorded − written first-token time, ms",
    ]
    text = table(
        [
            "rate",
            "achieved /s",
            "error p50",
            "error p99",
            "scheduler-lag p99",
            "client CPU",
            f"runs over {P99_LIMIT_MS:g} ms p99",
            "runs flagged by self-check",
        ],
        rows,
    )
    print("\n".join(header) + "\n\n" + text)
    write_result(args.json, "ttft_accuracy", {"header": header, "table": text, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
