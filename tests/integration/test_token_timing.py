"""Token timestamps against the truth: a server in its own process logs when it wrote each
token (``time.monotonic_ns`` is one clock for every process), and the client's per-token
times (first token + inter-token gaps) must match them within a couple of milliseconds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from agentload.clients.openai_chat import OpenAIChatClient
from agentload.config.models import Target
from agentload.records.record import CallResult, Outcome, Timing
from agentload.sessions.work import Work

SERVER = Path(__file__).resolve().parents[2] / "bench" / "stream_server.py"
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'


class SystemMonotonic:
    """The run clock as raw ``time.monotonic_ns``, so times compare with the server's log."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep_until(self, deadline_ns: int, *, precise: bool = True) -> None:
        await asyncio.sleep(max(0, deadline_ns - self.now_ns()) / 1e9)


@contextmanager
def stream_server(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    ready, log = tmp_path / "ready", tmp_path / "times.log"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--ready-file", str(ready), "--log-times", str(log), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        yield ready.read_text().strip(), log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_times(log: Path) -> dict[int, list[int]]:
    times: dict[int, list[int]] = {}
    for line in log.read_text().splitlines():
        request, _token, at_ns = (int(x) for x in line.split())
        times.setdefault(request, []).append(at_ns)
    return times


def client_token_times(timing: Timing, result: CallResult) -> list[int]:
    assert timing.first_token_at is not None
    gaps_ns = np.cumsum([0.0, *result.itl_ms]) * 1e6
    return [timing.first_token_at + round(g) for g in gaps_ns]


async def stream_all(
    url: str, transport: str, requests: int, concurrency: int
) -> list[tuple[Timing, CallResult]]:
    """``requests`` streamed chat requests from ``concurrency`` loops, with their timings."""
    client = OpenAIChatClient(Target(base_url=url, transport=transport), max_connections=64)
    clock = SystemMonotonic()
    results: list[tuple[Timing, CallResult]] = []
    next_seq = iter(range(requests))

    async def user() -> None:
        for seq in next_seq:
            work = Work(
                seq=seq,
                intended_at=0,
                action="chat",
                method="POST",
                path="/v1/chat/completions",
                body=BODY,
            )
            timing = Timing()
            results.append((timing, await client.call(work, timing, clock)))

    await asyncio.gather(*(user() for _ in range(concurrency)))
    await client.aclose()
    return results


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_each_token_is_timestamped_when_its_bytes_arrive(tmp_path: Path, transport: str) -> None:
    tokens, interval_ms, first_ms = 20, 15.0, 40.0
    with stream_server(
        tmp_path,
        *("--tokens", str(tokens), "--interval-ms", str(interval_ms)),
        *("--first-token-ms", str(first_ms)),
    ) as (url, log):
        pairs = asyncio.run(stream_all(url, transport, requests=12, concurrency=4))
        time.sleep(0.1)
        truth = server_times(log)
    assert len(pairs) == 12
    # The server numbers requests in arrival order; match them by their first token's time.
    server_streams = sorted(truth.values(), key=lambda ts: ts[0])
    client_streams = []
    for timing, result in pairs:
        assert result.outcome is Outcome.OK and result.chunks == tokens
        assert timing.sent_at is not None and timing.first_token_at is not None
        assert (timing.first_token_at - timing.sent_at) / 1e6 >= first_ms - 1.0
        client_streams.append(client_token_times(timing, result))
    client_streams.sort(key=lambda ts: ts[0])
    delays_ms = (
        np.array(
            [
                c - s
                for cs, ss in zip(client_streams, server_streams, strict=True)
                for c, s in zip(cs, ss, strict=True)
            ]
        )
        / 1e6
    )
    assert delays_ms.min() >= 0.0  # never before the server wrote it
    # Loopback delivery plus one loop turn; a fixed-size read buffer would add whole intervals.
    assert np.percentile(delays_ms, 50) < 1.0, delays_ms
    assert np.percentile(delays_ms, 95) < 3.0, delays_ms
