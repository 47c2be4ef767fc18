"""TTFT as the engine records it, against the time the server wrote the first token, with
open-loop load and many streams in flight at once (a modest rate: this is correctness; the
figure near the generator's limit, p99 included, and whether the run's self-check flagged the
runs over 3 ms, is ``bench/ttft_accuracy.py``'s)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

from agentload.api import scenario_builder
from agentload.clients import client_for
from agentload.config.loader import parse_scenario
from agentload.engine.core import Engine, OpenPlan
from agentload.records.record import Outcome, RequestRecord
from tests.integration.test_token_timing import SystemMonotonic, server_times, stream_server

RATE_PER_S = 150
REQUESTS = 180
FIRST_TOKEN_MS = 30.0


class Collect:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)


async def run_open_loop(url: str) -> list[RequestRecord]:
    scenario = parse_scenario(
        f'name: t\ntarget: {{base_url: "{url}", transport: fast}}\n'
        "request: {path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 8, stream: true}\n"
        f"load: {{arrival: constant, rate: {RATE_PER_S}/s, requests: {REQUESTS}}}\n",
        source="t.yaml",
    )
    clock = SystemMonotonic()
    start_ns = clock.now_ns() + 50_000_000
    interval_ns = 1_000_000_000 // RATE_PER_S
    plan = OpenPlan(iter(start_ns + i * interval_ns for i in range(REQUESTS)), max_in_flight=256)
    client = client_for(scenario, max_connections=256)
    sink = Collect()
    engine = Engine(plan, scenario_builder(scenario), client, clock, [sink], grace_s=5.0)
    try:
        await engine.run()
    finally:
        await client.aclose()
    return sink.records


def test_ttft_under_open_loop_load_matches_the_server_first_token_times(tmp_path: Path) -> None:
    with stream_server(
        tmp_path,
        *("--tokens", "8", "--interval-ms", "10", "--first-token-ms", str(FIRST_TOKEN_MS)),
    ) as (url, log):
        records = asyncio.run(run_open_loop(url))
        time.sleep(0.1)
        truth = sorted(times[0] for times in server_times(log).values())
    assert len(records) == REQUESTS
    assert {r.outcome for r in records} == {Outcome.OK}
    # Several streams overlap at this rate (30 ms to the first token, 100 ms per stream).
    measured = sorted(r.first_token_at for r in records if r.first_token_at is not None)
    assert len(measured) == len(truth) == REQUESTS
    # Requests are 6.7 ms apart and errors are well under that, so sorted order pairs them.
    error_ms = (np.array(measured) - np.array(truth)) / 1e6
    assert error_ms.min() >= 0.0
    assert np.percentile(error_ms, 50) <= 1.0, error_ms
    # The target is p99 <= 3 ms (bench/ttft_accuracy.py reports it); on a machine shared
    # with other jobs a preempted process puts a few of 180 past that, so p90 is asserted.
    assert np.percentile(error_ms, 90) <= 3.0, error_ms
    # The split of the schedule lag adds up, and the scheduler kept to its schedule.
    for r in records:
        assert r.scheduler_lag_ms is not None and r.dispatch_lag_ms is not None
        assert r.schedule_lag_ms is not None
        assert abs(r.scheduler_lag_ms + r.dispatch_lag_ms - r.schedule_lag_ms) < 1e-6
    lags = np.array([r.schedule_lag_ms for r in records])
    assert np.percentile(lags, 50) < 2.0, lags
