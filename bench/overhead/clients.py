"""The clients under test: how to run each one in a mode, and how to read what it prints."""

from __future__ import annotations

import json
import shutil
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .proc import ENTRY_SCRIPT

MODES = ("closed", "rate")
# The pseudo-mode of a run of one request: start-up + one request + shut-down, the fixed cost
# that is subtracted from every run.
ONE = "one"


@dataclass(frozen=True)
class Load:
    """The load every client is asked to generate (same for all, so rows compare)."""

    users: int
    duration_s: float
    rate_per_s: float
    max_in_flight: int


@dataclass(frozen=True)
class Parsed:
    """What a client's own output says about a run."""

    requests: int  # came due / were sent (agentload: counts.requests)
    ok: int
    achieved_per_s: float  # requests sent per second of the issue window


class Client(ABC):
    """One client under test."""

    name: ClassVar[str]
    modes: ClassVar[tuple[str, ...]] = MODES

    @abstractmethod
    def cmd(self, mode: str, tag: str) -> list[str]:
        """The command for ``mode`` (one of ``modes``, or ``ONE``); ``tag`` names the run."""

    @abstractmethod
    def startup_cmd(self) -> list[str]:
        """Start-up and imports only (reported for reference, not subtracted)."""

    @abstractmethod
    def parse(self, stdout: str) -> Parsed: ...


class AgentloadClient(Client):
    """``agentload run`` on a generated scenario, exactly as a user runs it."""

    name = "agentload"
    transport = "fast"

    def __init__(self, exe: str, url: str, load: Load, workdir: Path) -> None:
        self.exe = exe
        self.workdir = workdir / self.name
        duration = f"duration: {load.duration_s:g}s"
        loads = {
            "closed": f"model: closed, users: {load.users}, {duration}",
            "rate": f"model: open, arrival: constant, rate: {load.rate_per_s:g}/s, {duration},"
            f" max_in_flight: {load.max_in_flight}",
            ONE: "model: closed, users: 1, requests: 1",
        }
        self.scenarios: dict[str, Path] = {}
        self.workdir.mkdir(parents=True, exist_ok=True)
        for key, spec in loads.items():
            path = self.scenarios[key] = self.workdir / f"{key}.yaml"
            path.write_text(
                f"name: bench-{key}\n"
                f'target: {{base_url: "{url}", protocol: http, transport: {self.transport}}}\n'
                "request: {method: GET, path: /}\n"
                f"load: {{{spec}, grace: 5s}}\n"
            )

    def run_args(self, mode: str, tag: str) -> list[str]:
        """``agentload`` arguments of a run; also used by the profiler."""
        out = self.workdir / "runs" / tag  # must not exist yet: agentload refuses to overwrite
        return ["run", str(self.scenarios[mode]), "--quiet", "--json", "--out", str(out)]

    def cmd(self, mode: str, tag: str) -> list[str]:
        return [self.exe, *self.run_args(mode, tag)]

    def startup_cmd(self) -> list[str]:
        return [self.exe, "validate", str(self.scenarios["closed"])]

    def parse(self, stdout: str) -> Parsed:
        summary = json.loads(stdout)
        return Parsed(
            requests=int(summary["counts"]["requests"]),
            ok=int(summary["counts"]["ok"]),
            achieved_per_s=float(summary["rate"]["achieved_per_s"] or 0.0),
        )


class AgentloadAiohttpClient(AgentloadClient):
    """``agentload run`` with ``target.transport: aiohttp`` (the transport it had before)."""

    name = "agentload-aiohttp"
    transport = "aiohttp"


class AiohttpClient(Client):
    """The plain aiohttp + uvloop loop of ``aiohttp_worker.py`` (same Python, same venv)."""

    name = "aiohttp"

    def __init__(self, url: str, load: Load) -> None:
        self.url = url
        self.load = load

    def cmd(self, mode: str, tag: str) -> list[str]:
        load = self.load
        cmd = [sys.executable, str(ENTRY_SCRIPT), "aiohttp-worker", self.url]
        cmd += ["closed" if mode == ONE else mode, "--users", str(load.users)]
        cmd += ["--duration", f"{load.duration_s:g}", "--rate", f"{load.rate_per_s:g}"]
        cmd += ["--max-in-flight", str(load.max_in_flight)]
        if mode == ONE:
            cmd += ["--max-requests", "1"]
        return cmd

    def startup_cmd(self) -> list[str]:
        return [sys.executable, "-c", "import aiohttp, uvloop"]

    def parse(self, stdout: str) -> Parsed:
        result = json.loads(stdout)
        return Parsed(
            requests=int(result["requests"]),
            ok=int(result["ok"]),
            achieved_per_s=float(result["achieved_per_s"]),
        )


def find_agentload(explicit: str | None) -> str:
    """The ``agentload`` executable: ``explicit``, else beside this Python, else on PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "agentload"
    if beside.exists():
        return str(beside)
    found = shutil.which("agentload")
    if not found:
        raise SystemExit(
            "agentload not found: run with the project's venv python or pass --agentload"
        )
    return found
