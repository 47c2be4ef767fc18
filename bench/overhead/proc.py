"""Running and measuring subprocesses: rusage of a finished one, CPU of a live one, the server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = BENCH_DIR / "client_overhead.py"  # also runs the worker sub-commands
SERVER_SCRIPT = BENCH_DIR / "trivial_server.py"
# Extra wall time a measured subprocess may take beyond the load duration (start-up, grace).
SLACK_S = 60.0
# How long to wait for the trivial server to print its port.
SERVER_START_TIMEOUT_S = 15.0


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

    def check(self, what: str) -> Measured:
        """Self, unless it failed (agentload exits 1 when thresholds fail; none are set here)."""
        if self.returncode not in (0, 1):
            raise RuntimeError(f"{what} exited {self.returncode}: {self.stderr[-2000:]}")
        return self


def run_measured(cmd: Sequence[str], *, timeout_s: float) -> Measured:
    """Run ``cmd`` to completion (killed after ``timeout_s``) and return its resource use.

    stdout/stderr go to temporary files rather than pipes, so this thread can block in
    ``os.wait4`` (which returns the child's rusage) without a pipe-buffer deadlock.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
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
        return Measured(
            cpu_s=usage.ru_utime + usage.ru_stime,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            wall_s=wall_s,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user+sys) a live process has used so far, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" that ends the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class TrivialServer:
    """``bench/trivial_server.py`` in its own process; stopped by closing its stdin."""

    def __init__(self, *, cpu: int | None, max_seconds: float) -> None:
        cmd = [sys.executable, str(SERVER_SCRIPT), "--port", "0"]
        cmd += ["--max-seconds", f"{max_seconds:.0f}", "--exit-on-stdin-eof"]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{self._read_port()}"

    def _read_port(self) -> int:
        stdout = self.proc.stdout
        assert stdout is not None
        result: list[str] = []
        # readline() has no timeout: read in a thread and give up after a bounded wait.
        reader = threading.Thread(target=lambda: result.append(stdout.readline().decode()))
        reader.daemon = True
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
