"""The Redis collector against a real ``redis-server`` on loopback (started here)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from agentload.config.telemetry import RedisTelemetry
from agentload.telemetry.base import Notes
from agentload.telemetry.redis_info import RedisCollector
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but never listening: connections are refused, and while the test runs
    no other server can take it (a released free port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (see `make services`)", pytrace=False)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "no redis-server"
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_info_series_and_rates(redis_port: int) -> None:
    notes = Notes()
    collector = RedisCollector(RedisTelemetry(url=f"redis://127.0.0.1:{redis_port}/0"), notes)
    client = redis.Redis(host="127.0.0.1", port=redis_port)

    async def two_samples() -> tuple[dict[str, float], dict[str, float]]:
        first = await collector.sample()
        await asyncio.to_thread(lambda: [client.set(f"k{i}", "v" * 100) for i in range(500)])
        second = await collector.sample()
        await collector.close()
        return first, second

    first, second = asyncio.run(two_samples())
    assert "redis.ops_per_s" not in first  # a rate needs two readings
    assert first["redis.connected_clients"] >= 1
    assert 0 < first["redis.latency_ms"] < 1000
    assert second["redis.ops_per_s"] > 0
    assert second["redis.used_memory_bytes"] > first["redis.used_memory_bytes"]
    assert second["redis.evicted_keys_per_s"] == 0
    assert notes.lines == []


def test_unreachable_redis_is_one_note(refused_port: int) -> None:
    notes = Notes()
    url = f"redis://127.0.0.1:{refused_port}/0"
    collector = RedisCollector(RedisTelemetry(url=url, timeout=0.5), notes)

    async def samples() -> list[dict[str, float]]:
        out = [await collector.sample() for _ in range(3)]
        await collector.close()
        return out

    assert asyncio.run(samples()) == [{}, {}, {}]
    assert len(notes.lines) == 1 and notes.lines[0].startswith(f"redis: cannot read {url}")
