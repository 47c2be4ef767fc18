"""``make bench``: run every benchmark of the load generator within a time budget and write
their tables into ``docs/performance.md`` (between the ``bench:begin``/``bench:end`` markers;
the rest of the page, the method and the history, is kept as written).

    .venv/bin/python bench/run_all.py [--quick] [--no-docs] [--no-install]

First the peers (wrk, Locust, AIPerf, GuideLLM) are installed apart from agentload by
``bench/peers.py`` (cached in ``bench/.peers/``; a first install takes a few minutes and is
not part of the benchmarks' time budget; ``--no-install`` uses only what is there). Each
benchmark then runs as its own process with a time limit; one that fails or runs out of time
is reported as such in the page instead of stopping the others.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peers
from benchlib import BENCH, ROOT, log, machine, now_iso
from peer_summary import summary
from targets import targets

DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# (name, script, arguments, time limit in seconds); the limits add up to 900 s (15 min); with
# every peer installed the whole run took 10 minutes on 2 shared vCPUs (streaming 4 of them).
FULL = [
    ("transport_only", "transport_only.py", ["--requests", "10000", "--runs", "3"], 30),
    (
        "client_overhead",
        "client_overhead.py",
        ["--runs", "3", "--duration", "3", "--no-sinks"],
        140,
    ),
    ("streaming", "streaming.py", ["--streams", "500", "--tokens", "100", "--runs", "3"], 300),
    # The machine's own penalty after idling, beside the figures that it sets (lag, TTFT).
    ("idle_penalty", "idle_penalty.py", ["--runs", "3"], 15),
    ("schedule_accuracy", "schedule_accuracy.py", ["--duration", "5", "--runs", "3"], 130),
    (
        "memory_per_stream",
        "memory_per_stream.py",
        ["--streams", "1000,4000,10000", "--runs", "3"],
        125,
    ),
    # 4,000/s: the client near 70-90% of its core, where the issue asks for the figure
    ("ttft_accuracy", "ttft_accuracy.py", ["--rates", "200,1000,2000,4000", "--runs", "3"], 100),
    ("install_size", "install_size.py", [], 60),
]
QUICK = [
    ("transport_only", "transport_only.py", ["--requests", "10000", "--runs", "1"], 60),
    (
        "client_overhead",
        "client_overhead.py",
        ["--runs", "1", "--duration", "2", "--no-sinks"],
        120,
    ),
    ("streaming", "streaming.py", ["--streams", "200", "--tokens", "50", "--runs", "1"], 150),
    ("idle_penalty", "idle_penalty.py", ["--runs", "1"], 20),
    (
        "schedule_accuracy",
        "schedule_accuracy.py",
        ["--rates", "1000,5000", "--duration", "3", "--runs", "1"],
        90,
    ),
    ("memory_per_stream", "memory_per_stream.py", ["--streams", "1000", "--runs", "1"], 90),
    ("ttft_accuracy", "ttft_accuracy.py", ["--rates", "200,1000", "--runs", "1"], 60),
    ("install_size", "install_size.py", [], 60),
]


def run(name: str, script: str, args: list[str], limit_s: int, out: Path) -> str:
    json_path = out / f"{name}.json"
    cmd = [sys.executable, str(BENCH / script), *args, "--json", str(json_path)]
    if name == "streaming":  # its peers are slow: it stops starting runs before the limit
        cmd += ["--max-seconds", str(limit_s - 40)]
    log(f"== {name}: {' '.join(cmd[1:])} (limit {limit_s} s)")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, cwd=BENCH)
    except subprocess.TimeoutExpired:
        return f"### {name}\n\nNot measured: it ran past its {limit_s} s limit.\n"
    took = time.monotonic() - started
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return f"### {name}\n\nFailed (exit {proc.returncode}): `{' / '.join(tail)}`\n"
    log(f"   done in {took:.0f} s")
    command = "python bench/" + " ".join([script, *args])
    return f"### {name}\n\n`{command}` ({took:.0f} s)\n\n```\n{proc.stdout.strip()}\n```\n"


def install_peers(install: bool, allow_large: bool) -> str:
    """Install (or, without ``install``, only look up) the peers; a Markdown list of them."""
    lines = []
    for name in peers.ALL:
        peer = peers.ensure(name, allow_large=allow_large) if install else peers.cached(name)
        state = f"installed ({peer.note})" if peer.ok else f"skipped: {peer.note}"
        lines.append(f"- {name}: {state}")
    return "\n".join(lines)


def render(sections: list[str], peer_list: str) -> str:
    return "\n".join(
        [
            BEGIN,
            f"## Latest `make bench` ({now_iso()})",
            "",
            f"Machine: {machine()}. Written by `bench/run_all.py`; how each figure is measured "
            "is in each script's docstring and in the sections below.",
            "",
            "Peers (installed apart from agentload in `bench/.peers/` by `bench/peers.py`):",
            "",
            peer_list,
            "",
            *sections,
            END,
        ]
    )


def write_doc(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Performance of the load generator\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:  # first time: after the title and its first paragraph
        title, sep, rest = text.partition("\n\n")
        first, sep2, tail = rest.partition("\n\n")
        text = title + sep + first + sep2 + block + "\n\n" + tail
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description="run every benchmark, update the docs")
    parser.add_argument("--quick", action="store_true", help="one short run of each (~5 min)")
    parser.add_argument("--no-docs", action="store_true", help="print, do not write the page")
    parser.add_argument(
        "--no-install", action="store_true", help="do not install peers, use those installed"
    )
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="install peers over the download limit too (GuideLLM: ~3 GB with torch and CUDA)",
    )
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="agentload-bench-results-"))
    peer_list = install_peers(not args.no_install, args.allow_large)
    log(peer_list)
    started = time.monotonic()
    sections = [run(*spec, out) for spec in (QUICK if args.quick else FULL)]
    log(f"benchmarks took {time.monotonic() - started:.0f} s")
    sections.insert(0, summary(out))
    sections.insert(0, targets(out))  # first: each target, this run's figure, met or not
    block = render(sections, peer_list)
    print(block)
    if not args.no_docs:
        write_doc(block)
        log(f"wrote {DOC.relative_to(ROOT)}")
    (out / "latest.json").write_text(json.dumps({"date": now_iso(), "sections": sections}))
    log(f"JSON results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
