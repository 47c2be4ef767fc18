"""wrk (the C load generator, from the OS packages) as a client: the practical floor of client
CPU per request on this machine. Closed mode only (wrk has no arrival rate; wrk2 does)."""

from __future__ import annotations

import re
from pathlib import Path

from .clients import ONE, Client, Load, Parsed

# The fixed-cost run stops each thread after its first response (wrk's Lua API).
ONE_REQUEST_LUA = "response = function(status, headers, body)\n  wrk.thread:stop()\nend\n"


class WrkClient(Client):
    """``wrk -t1 -c<users> -d<duration>``: one thread, so one core, like the other clients."""

    name = "wrk"
    modes = ("closed",)

    def __init__(self, exe: str, url: str, load: Load, workdir: Path) -> None:
        self.exe = exe
        self.url = url + "/"
        self.load = load
        self.one_lua = workdir / "wrk-one.lua"
        self.one_lua.write_text(ONE_REQUEST_LUA)

    def cmd(self, mode: str, tag: str) -> list[str]:
        if mode == ONE:
            return [self.exe, "-t1", "-c1", "-d1s", "-s", str(self.one_lua), self.url]
        users, duration = self.load.users, f"{self.load.duration_s:g}s"
        return [self.exe, "-t1", f"-c{users}", f"-d{duration}", "--timeout", "5s", self.url]

    def startup_cmd(self) -> list[str]:
        return [self.exe, "--version"]

    def parse(self, stdout: str) -> Parsed:
        done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", stdout)
        if done is None:
            raise RuntimeError(f"unexpected wrk output: {stdout[-500:]!r}")
        requests = int(done.group(1))
        seconds = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
        errors = 0
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
        if non_2xx:
            errors += int(non_2xx.group(1))
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                         stdout)  # fmt: skip
        if sock:
            errors += sum(int(g) for g in sock.groups())
        return Parsed(
            requests=requests,
            ok=max(requests - errors, 0),
            achieved_per_s=requests / seconds if seconds > 0 else 0.0,
        )
