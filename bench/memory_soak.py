"""Memory soak: resident memory of the load generator over a million requests.

agentload's memory must grow with its histograms and what is in flight, not with the number
of requests (records go to disk every 0.5 s; summaries come from fixed-size histograms). This
runs ``agentload.api.run`` in this process against ``bench/trivial_server.py`` (a separate
process on loopback) for ``--requests`` requests (default 1,000,000), samples this process's
RSS every ``--sample-s`` seconds through the live-progress hook, and prints a table plus the
verdict: RSS after warm-up (the first ``--warmup`` share of requests) must stay within
``--bound-mib`` of its post-warm-up level.

    .venv/bin/python bench/memory_soak.py [--requests 1000000] [--users 64] [--bound-mib 16]

Closed model (users back to back), so the request rate is whatever the machine allows; every
loop is bounded by the request count and the run by ``--max-seconds``. Exit code 0 when RSS
stayed within the bound, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead.proc import TrivialServer

from agentload import api
from agentload.config import parse_scenario

MIB = 1 << 20


@dataclass
class Sample:
    elapsed_s: float
    issued: int
    in_flight: int
    rss_mib: float


class RssSampler:
    """A ``Progress`` for ``api.run``: records RSS and progress every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self._every_s = every_s
        self._process = psutil.Process()
        self._next_s = 0.0
        self.samples: list[Sample] = []

    def update(self, snapshot: api.ProgressSnapshot) -> None:
        if snapshot.elapsed_s < self._next_s:
            return
        self._next_s = snapshot.elapsed_s + self._every_s
        rss = self._process.memory_info().rss / MIB
        self.samples.append(Sample(snapshot.elapsed_s, snapshot.issued, snapshot.in_flight, rss))

    def close(self) -> None:
        pass


def scenario_text(url: str, args: argparse.Namespace) -> str:
    return f"""
name: memory-soak
target:
  base_url: {url}
  protocol: http
  timeouts: {{connect: 5s, first_byte: 10s, total: 10s}}
load:
  model: closed
  users: {args.users}
  requests: {args.requests}
  duration: {args.max_seconds}s
  grace: 5s
request:
  method: GET
  path: /
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of requests")
    parser.add_argument("--bound-mib", type=float, default=16.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="agentload-soak-"))
    server = TrivialServer(cpu=None, max_seconds=args.max_seconds + 60)
    sampler = RssSampler(args.sample_s)
    started = time.monotonic()
    try:
        scenario = parse_scenario(scenario_text(server.url, args), source="memory_soak")
        result = api.run(scenario, out_dir=work / "run", progress=sampler)
    finally:
        server.stop()
    wall_s = time.monotonic() - started
    final_rss = psutil.Process().memory_info().rss / MIB
    summary = result.summary

    print(f"{'elapsed_s':>10} {'issued':>10} {'in_flight':>9} {'rss_mib':>8}")
    for s in sampler.samples:
        print(f"{s.elapsed_s:10.1f} {s.issued:10d} {s.in_flight:9d} {s.rss_mib:8.1f}")
    print(f"{'end':>10} {summary.requests:10d} {0:9d} {final_rss:8.1f}")

    warm = [s for s in sampler.samples if s.issued >= args.warmup * args.requests]
    records_mib = (work / "run" / "records.jsonl").stat().st_size / MIB
    print(
        f"\nrequests {summary.requests:,} (ok {summary.ok:,}, error {summary.error:,}) in "
        f"{wall_s:.0f} s, {summary.requests / wall_s:,.0f} req/s; "
        f"records.jsonl {records_mib:.0f} MiB"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if len(warm) < 2:
        print("too few samples after warm-up to judge; run longer or sample more often")
        return 1
    # The end row (after the summary and report.html are built) is shown, not judged: the
    # claim is about the run itself.
    low = min(s.rss_mib for s in warm)
    high = max(s.rss_mib for s in warm)
    verdict = "PASS" if high - low <= args.bound_mib else "FAIL"
    print(
        f"RSS after warm-up: {low:.1f} .. {high:.1f} MiB (growth {high - low:.1f} MiB, "
        f"bound {args.bound_mib:.0f} MiB): {verdict}"
    )
    return 0 if verdict == "PASS" and summary.requests == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
