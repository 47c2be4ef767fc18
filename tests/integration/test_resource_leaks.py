"""File descriptors and sockets: a run, whatever the target did, gives back all it opened,
and holds no more than its in-flight requests need while it runs."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from agentload import api
from tests.hostile_server import HostileServer, hostile_server
from tests.integration.test_hostile_responses import hostile_scenario

# Clean answers, resets, garbage, capped endless bodies and timeouts.
BEHAVIOURS = ("ok", "reset_mid_stream", "close_at_once", "garbage_status", "endless_body", "hang")
REQUESTS = 150
IN_FLIGHT = 8


def open_resources(process: psutil.Process) -> tuple[int, int]:
    """(file descriptors, TCP sockets) of this process, after collecting garbage."""
    gc.collect()
    return process.num_fds(), len(process.net_connections(kind="tcp"))


def settle(server: HostileServer) -> None:
    """Wait until the server has seen every client hang up (its sockets are ours too)."""
    deadline = time.monotonic() + 5
    while server.state.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)


@contextmanager
def peak_fds(process: psutil.Process) -> Iterator[list[int]]:
    peak = [process.num_fds()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.num_fds())
            stop.wait(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_runs_leak_no_file_descriptors_or_sockets(tmp_path: Path, transport: str) -> None:
    process = psutil.Process()
    with hostile_server() as server:
        # A first run loads modules and creates what lives for the process (loop, resolver).
        warmup = hostile_scenario(server.url, "http", "ok", transport=transport)
        api.run(warmup, out_dir=tmp_path / "w")
        settle(server)
        before = open_resources(process)
        peaks: dict[str, int] = {}
        for index, behaviour in enumerate(BEHAVIOURS):
            protocol = "openai-chat" if index % 2 else "http"
            scenario = hostile_scenario(server.url, protocol, behaviour, transport=transport)
            load = scenario.load.model_copy(
                update={"requests": REQUESTS, "rate": 300.0, "max_in_flight": IN_FLIGHT}
            )
            with peak_fds(process) as peak:
                api.run(scenario.model_copy(update={"load": load}), out_dir=tmp_path / behaviour)
            peaks[behaviour] = peak[0]
            settle(server)
        after = open_resources(process)
    # Not more than before (other tests' leftovers may be collected meanwhile: fewer is fine).
    assert after[0] <= before[0] and after[1] <= before[1], f"(fds, sockets) {before} -> {after}"
    # While running: both ends of each in-flight connection (the server is in this process),
    # plus the run directory's files and some slack; a leak per request would pass 150.
    bound = before[0] + 2 * IN_FLIGHT + 24
    assert max(peaks.values()) <= bound, f"peak fds {peaks}, bound {bound}"
