"""Endless and huge bodies: the response byte cap ends them, and memory stays bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from agentload import api
from agentload.records.record import ErrorKind
from agentload.records.rundir import RunDir
from tests.hostile_server import hostile_server
from tests.integration.test_hostile_responses import hostile_scenario

CAP_BYTES = 4 << 20
IN_FLIGHT = 8
MIB = 1 << 20


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Samples this process's resident memory every 5 ms; yields [baseline, peak]."""
    process = psutil.Process()
    result = [process.memory_info().rss, 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result[1] = max(result[1], process.memory_info().rss)
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize(
    ("protocol", "behaviour", "transport"),
    [
        ("http", "endless_body", "fast"),
        ("http", "endless_body", "aiohttp"),
        ("openai-chat", "endless_stream", "fast"),
        ("openai-chat", "huge_body", "aiohttp"),
    ],
)
def test_an_endless_body_stops_at_the_cap_with_bounded_memory(
    tmp_path: Path, protocol: str, behaviour: str, transport: str
) -> None:
    with hostile_server() as server:
        scenario = hostile_scenario(
            server.url,
            protocol,
            behaviour,
            transport=transport,
            max_response_bytes=CAP_BYTES,
            # Without the cap these would read for 20 s at loopback speed: gigabytes each.
            timeouts={"first_byte": "20s", "total": "20s"},
        )
        scenario = scenario.model_copy(
            update={
                "load": scenario.load.model_copy(
                    update={"requests": IN_FLIGHT, "rate": 200.0, "max_in_flight": IN_FLIGHT}
                )
            }
        )
        started = time.monotonic()
        with peak_rss() as rss:
            api.run(scenario, out_dir=tmp_path / "run")
        elapsed_s = time.monotonic() - started
    records = list(RunDir.open(tmp_path / "run").iter_records())
    assert sorted(r.seq for r in records) == list(range(IN_FLIGHT))
    assert {r.error_kind for r in records} == {ErrorKind.BODY_TOO_LARGE}
    assert elapsed_s < 10, "the cap, not the timeout, should end these requests"
    # At most every request in flight holding its capped body (and one copy), plus slack for
    # buffers and the allocator: far below the gigabytes an uncapped read would hold.
    growth_mib = (rss[1] - rss[0]) / MIB
    bound_mib = IN_FLIGHT * CAP_BYTES * 2 / MIB + 64
    assert growth_mib < bound_mib, f"RSS grew {growth_mib:.0f} MiB, bound {bound_mib:.0f} MiB"
