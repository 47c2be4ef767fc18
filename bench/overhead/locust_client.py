"""Locust FastHttpUser as a client, run from its own venv (``bench/peers.py`` installs it)."""

from __future__ import annotations

import json
from pathlib import Path

from .clients import ONE, Client, Load, Parsed

LOCUSTFILE = """\
from locust import FastHttpUser, task


class Bench(FastHttpUser):
    @task
    def get(self):
        self.client.get("/")
"""


class LocustClient(Client):
    """Locust FastHttpUser, headless, one process (no ``--processes``), closed mode only
    (Locust has no open arrival model); ``--json`` prints a list of stats entries."""

    name = "locust"
    modes = ("closed",)

    def __init__(self, python: str, url: str, load: Load, workdir: Path) -> None:
        self.python = python
        self.url = url
        self.load = load
        self.locustfile = workdir / "locustfile.py"
        self.locustfile.write_text(LOCUSTFILE)

    def cmd(self, mode: str, tag: str) -> list[str]:
        # Locust has no "one request" option; one user for 1 s over-counts the fixed cost a
        # little (its requests are charged to start-up), so Locust's µs/request is a lower bound.
        users, duration_s = (1, 1.0) if mode == ONE else (self.load.users, self.load.duration_s)
        return [
            self.python, "-m", "locust", "-f", str(self.locustfile), "--headless",
            "-u", str(users), "-r", str(max(users, 1000)), "-t", f"{duration_s:g}s",
            "--host", self.url, "--json", "--only-summary", "--stop-timeout", "5",
            "--loglevel", "ERROR",
        ]  # fmt: skip

    def startup_cmd(self) -> list[str]:
        return [self.python, "-m", "locust", "--version"]

    def parse(self, stdout: str) -> Parsed:
        start = stdout.find("[")
        entries = json.loads(stdout[start:]) if start >= 0 else []
        requests = sum(int(e.get("num_requests", 0)) for e in entries)
        failures = sum(int(e.get("num_failures", 0)) for e in entries)
        t0 = min((float(e["start_time"]) for e in entries), default=0.0)
        t1 = max((float(e["last_request_timestamp"] or 0) for e in entries), default=0.0)
        return Parsed(
            requests=requests,
            ok=requests - failures,
            achieved_per_s=requests / (t1 - t0) if t1 > t0 else 0.0,
        )
