"""``--profile``: one ``agentload run`` per mode under cProfile, with a CPU-clock timer."""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .clients import AgentloadClient
from .proc import ENTRY_SCRIPT, run_measured
from .tables import table


def profile_worker(argv: Sequence[str]) -> int:
    """``client_overhead.py profile-worker PROF -- AGENTLOAD-ARGS``: the CLI under cProfile.

    The profiler's timer is the process CPU clock (``time.process_time``), not the wall
    clock that ``python -m cProfile`` uses: on a shared machine wall time also counts time
    the process was not running, and idle time in the event loop's poll would dominate the
    open-loop profile. The CLI is imported before profiling starts, so start-up imports are
    left out and the profile is (almost only) the run itself.
    """
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


def short_path(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def profile_agentload(
    client: AgentloadClient, mode: str, dest: Path, top: int, timeout_s: float
) -> str:
    """Run ``agentload run`` once under cProfile (CPU clock); its top costs per ok request."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ENTRY_SCRIPT), "profile-worker", str(dest), "--"]
    cmd += client.run_args(mode, f"profile-{mode}")
    measured = run_measured(cmd, timeout_s=timeout_s).check("profiled run")
    ok = max(client.parse(measured.stdout).ok, 1)
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    stats = pstats.Stats(str(dest)).stats  # type: ignore[attr-defined]
    # (cumulative s, own s, calls, name) of every profiled function.
    entries = [
        (cumtime, tottime, ncalls, f"{short_path(filename)}:{line}({func})")
        for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.items()
    ]
    profiled_s = max((e[0] for e in entries), default=0.0)

    def rows(by_own: bool) -> list[list[str]]:
        ordered = sorted(entries, key=lambda e: e[1] if by_own else e[0], reverse=True)[:top]
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
