"""Helpers shared by the streaming, schedule and memory benchmarks: run a client process and
read its CPU time from the kernel, start a local server, pin cores, describe the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STREAM_SERVER = BENCH / "stream_server.py"
TRIVIAL_SERVER = BENCH / "trivial_server.py"


@dataclass(frozen=True)
class Measured:
    stdout: str
    stderr: str  # its last 2,000 characters
    cpu_s: float  # user + sys of the process (rusage), start-up included
    wall_s: float
    max_rss_kb: int
    rc: int


def run_measured(cmd: Sequence[str], timeout_s: float) -> Measured:
    """Run ``cmd`` to its end and take its CPU time and peak RSS from ``wait4``."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
        err.seek(0)
        errors = err.read().decode(errors="replace")[-2000:]
    return Measured(
        stdout=text,
        stderr=errors,
        cpu_s=usage.ru_utime + usage.ru_stime,
        wall_s=time.monotonic() - started,
        max_rss_kb=usage.ru_maxrss,
        rc=proc.returncode,
    )


def agentload_exe() -> str:
    beside = Path(sys.executable).parent / "agentload"
    return str(beside) if beside.exists() else "agentload"


def pick_cores(pin: bool) -> tuple[int | None, int | None, str]:
    """Server on the first allowed core, clients on the second (when there are two)."""
    cores = sorted(os.sched_getaffinity(0))
    if not pin or len(cores) < 2:
        return None, None, "not pinned"
    return cores[0], cores[1], f"server pinned to core {cores[0]}, clients to core {cores[1]}"


@contextmanager
def server(script: Path, *args: str, cpu: int | None = None) -> Iterator[str]:
    """A bench server in its own process; yields its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready"
        cmd = [sys.executable, str(script), "--port", "0", "--ready-file", str(ready), *args]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        )
        try:
            deadline = time.monotonic() + 20
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{script.name} did not start")
                time.sleep(0.02)
            yield ready.read_text().strip()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} vCPUs ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(path: Path | None, name: str, data: dict[str, object]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bench": name, "date": now_iso(), "machine": machine(), **data}))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mean_in_flight(intervals: Sequence[tuple[int, int]]) -> float:
    """Requests in flight on average between the first start and the last end (Little's law:
    total time in flight ÷ window)."""
    if not intervals:
        return 0.0
    window = max(end for _, end in intervals) - min(start for start, _ in intervals)
    return sum(end - start for start, end in intervals) / window if window > 0 else 0.0


def record_intervals(run_dir: Path) -> list[tuple[int, int]]:
    """(sent_at, done_at) of every sent request in a run directory's records.jsonl."""
    out = []
    with (run_dir / "records.jsonl").open() as f:
        for line in f:
            r = json.loads(line)
            if r.get("sent_at") is not None:
                out.append((r["sent_at"], r["done_at"]))
    return out
