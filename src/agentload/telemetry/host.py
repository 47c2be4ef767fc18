"""Host collector (psutil): CPU per core, memory, network, TCP retransmits, named processes.

Series: ``cpu_percent`` (all cores, 0-100), ``cpu{N}_percent``, ``mem_used_bytes``,
``mem_available_bytes``, ``net_sent_bytes_per_s``, ``net_recv_bytes_per_s``,
``tcp_retrans_segs_per_s`` (Linux, from ``/proc/net/snmp``), and per followed process
``proc.<name>.cpu_percent`` (percent of one core, summed over the processes matched),
``proc.<name>.rss_bytes`` and ``proc.<name>.count``. A name matches a process whose name
equals it or whose command line contains it (this process excluded: the ``generator``
collector covers it); a PID follows that one process and is named by its number.

Rates and CPU percentages are over the time since the previous sample, so the first sample
has none of them. psutil reads ``/proc``, which blocks: a sample runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import psutil

from agentload.config.telemetry import HostTelemetry
from agentload.telemetry.base import Notes, Rates

NAME = "host"
SNMP_PATH = Path("/proc/net/snmp")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def parse_snmp(text: str) -> dict[str, dict[str, int]]:
    """``/proc/net/snmp``: pairs of lines, a header of field names then their values."""
    tables: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    for header, row in zip(lines[::2], lines[1::2], strict=False):
        head_name, _, head_fields = header.partition(":")
        row_name, _, row_values = row.partition(":")
        if head_name != row_name:
            continue
        table: dict[str, int] = {}
        for field, value in zip(head_fields.split(), row_values.split(), strict=False):
            try:
                table[field] = int(value)
            except ValueError:
                continue
        tables[head_name.strip()] = table
    return tables


def series_name(process: str | int) -> str:
    """``proc.<name>`` as used in series names: unsafe characters become ``_``."""
    return "proc." + (_UNSAFE.sub("_", str(process)).strip("_") or "process")


class HostCollector:
    name = NAME

    def __init__(self, config: HostTelemetry, notes: Notes) -> None:
        self._config = config
        self._notes = notes
        self._rates = Rates()
        self._procs: dict[int, psutil.Process] = {}
        self._primed = False

    async def sample(self) -> dict[str, float]:
        return await asyncio.to_thread(self._sample_blocking)

    async def close(self) -> None:
        self._procs.clear()

    def _sample_blocking(self) -> dict[str, float]:
        now_s = time.monotonic()
        values: dict[str, float] = {}
        per_core = psutil.cpu_percent(percpu=True)  # since the previous call
        if self._primed:
            if per_core:
                values["cpu_percent"] = sum(per_core) / len(per_core)
            for index, percent in enumerate(per_core):
                values[f"cpu{index}_percent"] = float(percent)
        self._primed = True
        memory = psutil.virtual_memory()
        values["mem_used_bytes"] = float(memory.used)
        values["mem_available_bytes"] = float(memory.available)
        net = psutil.net_io_counters()
        if net is not None:
            self._put_rate(values, "net_sent_bytes_per_s", net.bytes_sent, now_s)
            self._put_rate(values, "net_recv_bytes_per_s", net.bytes_recv, now_s)
        retrans = _tcp_retrans_segs()
        if retrans is not None:
            self._put_rate(values, "tcp_retrans_segs_per_s", retrans, now_s)
        for process in self._config.processes:
            self._sample_process(values, process)
        return values

    def _put_rate(self, values: dict[str, float], key: str, counter: float, now_s: float) -> None:
        rate = self._rates.rate(key, counter, now_s)
        if rate is not None:
            values[key] = rate

    def _sample_process(self, values: dict[str, float], process: str | int) -> None:
        matched = self._match(process)
        prefix = series_name(process)
        cpu = rss = 0.0
        count = 0
        for proc in matched:
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)  # 0.0 on the first call for a process
                    rss += proc.memory_info().rss
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._procs.pop(proc.pid, None)
        values[prefix + ".count"] = float(count)
        if count:
            values[prefix + ".cpu_percent"] = cpu
            values[prefix + ".rss_bytes"] = rss
        else:
            self._notes.add(f"host telemetry: no running process matches {process!r}")

    def _match(self, process: str | int) -> list[psutil.Process]:
        if isinstance(process, int):
            pids = [process]
        else:
            own = os.getpid()
            pids = []
            for proc in psutil.process_iter(["name", "cmdline"]):
                name = proc.info.get("name") or ""
                cmdline = " ".join(proc.info.get("cmdline") or ())
                if proc.pid != own and (name == process or process in cmdline):
                    pids.append(proc.pid)
        found: list[psutil.Process] = []
        for pid in pids:
            # The same Process object each time: cpu_percent measures since its last call.
            cached = self._procs.get(pid)
            if cached is None:
                try:
                    cached = self._procs[pid] = psutil.Process(pid)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            found.append(cached)
        return found


def _tcp_retrans_segs() -> int | None:
    try:
        text = SNMP_PATH.read_text(encoding="ascii")
    except OSError:
        return None
    return parse_snmp(text).get("Tcp", {}).get("RetransSegs")
