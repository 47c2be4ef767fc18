"""Does this machine run code slowly after its core has been idle for a few milliseconds?

    .venv/bin/python bench/idle_penalty.py [--runs 3] [--folds 100] [--src DIR] [--json F]

Folds 896 latencies into one of agentload's histograms (what a run does on its event loop a
few times a second), then sleeps, over and over, and reports the thread CPU of a fold by the
sleep before it. On a machine with its core to itself the fold costs about the same after
any sleep (~0.06 ms here at the best of times). On a shared virtual machine whose core other
guests use while this one sleeps, caches and TLBs are cold when it wakes, and the same fold
has cost 25x more after 20 ms: the stalls that then set an open-loop run's p99 schedule lag
and TTFT error (docs/performance.md). It measures the machine, not agentload: ``--src``
points at another checkout's ``src`` to compare code on the same machine. Pinned to the
last core where ``os.sched_setaffinity`` exists. Bounded: runs x sleeps x folds iterations.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchlib import log, machine, median, now_iso, table, write_result

SLEEPS_MS = (0.0, 1.0, 5.0, 20.0)
VALUES_PER_FOLD = 896


def fold_costs_ms(folds: int, sleep_ms: float) -> list[float]:
    from agentload.metrics.histogram import LatencyHistogram, warm_up

    warm_up()
    histogram = LatencyHistogram()
    histogram.allocate()
    rng = random.Random(7)
    values = [rng.lognormvariate(1.0, 1.0) for _ in range(VALUES_PER_FOLD)]
    costs = []
    for _ in range(folds):
        histogram.pending_ms.extend(values)
        started = time.thread_time_ns()
        histogram.fold()
        costs.append((time.thread_time_ns() - started) / 1e6)
        if sleep_ms:
            time.sleep(sleep_ms / 1000)
    return costs


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="a histogram fold's CPU after idle sleeps")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--folds", type=int, default=100, help="folds per sleep and run")
    parser.add_argument("--src", type=Path, default=None, help="import agentload from here")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.src is not None:
        sys.path.insert(0, str(args.src))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    p50s: dict[float, list[float]] = {s: [] for s in SLEEPS_MS}
    p90s: dict[float, list[float]] = {s: [] for s in SLEEPS_MS}
    for run in range(args.runs):
        for sleep_ms in SLEEPS_MS:
            costs = sorted(fold_costs_ms(args.folds, sleep_ms))
            p50s[sleep_ms].append(costs[len(costs) // 2])
            p90s[sleep_ms].append(costs[int(len(costs) * 0.9)])
            p50 = p50s[sleep_ms][-1]
            log(f"run {run + 1}: after {sleep_ms:g} ms asleep, fold p50 {p50:.3f} ms")
    hot = median(p50s[0.0])
    rows = [
        [
            f"{s:g} ms",
            f"{median(p50s[s]):.3f}",
            f"{median(p90s[s]):.3f}",
            f"{median(p50s[s]) / hot:.1f}x" if hot > 0 else "—",
        ]
        for s in SLEEPS_MS
    ]
    print(f"idle penalty — {now_iso()} — {machine()}")
    print(
        f"thread CPU of one fold of {VALUES_PER_FOLD} values, by the sleep before it; "
        f"medians of {args.runs} runs of {args.folds} folds\n"
    )
    print(table(["asleep before", "fold p50 ms", "fold p90 ms", "÷ no sleep"], rows))
    write_result(
        args.json,
        "idle_penalty",
        {
            "fold_p50_ms": {f"{s:g}": median(p50s[s]) for s in SLEEPS_MS},
            "fold_p90_ms": {f"{s:g}": median(p90s[s]) for s in SLEEPS_MS},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
