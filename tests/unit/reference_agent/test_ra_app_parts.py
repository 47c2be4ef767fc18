"""Parts of the HTTP layer on their own: the fault injector and the job registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import pytest

from agentload.reference_agent.engine import SimulatedEngine
from agentload.reference_agent.faults import FaultInjector
from agentload.reference_agent.jobs import JobRegistry, TooManyJobs
from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.profiles import Serializer
from agentload.reference_agent.settings import AgentSettings, FaultSettings
from agentload.reference_agent.turn import Done, Token, TurnEvent, TurnRequest


def injector(seed: int = 0, **faults: float | None) -> FaultInjector:
    metrics = AgentMetrics(SimulatedEngine.from_settings(AgentSettings()))
    return FaultInjector(FaultSettings(**faults), seed, metrics)  # type: ignore[arg-type]


def test_http_faults_are_seeded_and_follow_their_rates() -> None:
    def statuses(seed: int) -> list[int]:
        faults = injector(seed, http_429_rate=0.2, http_5xx_rate=0.1)
        return [fault[0] if (fault := faults.draw_http()) else 200 for _ in range(5000)]

    first = statuses(7)
    assert first == statuses(7) and first != statuses(8)
    assert first.count(429) == pytest.approx(1000, abs=120)
    assert first.count(500) == pytest.approx(0.8 * 0.1 * 5000, abs=80)


def test_429_headers() -> None:
    fault = injector(http_429_rate=1.0, retry_after_s=0.4).draw_http()
    assert fault is not None and fault[0] == 429
    assert fault[2] == {"Retry-After": "1", "retry-after-ms": "400"}  # whole seconds, rounded up
    bare = injector(http_429_rate=1.0, retry_after_s=None).draw_http()
    assert bare is not None and bare[2] == {}


def test_resets_cut_after_a_few_tokens() -> None:
    faults = injector(reset_rate=0.5)
    cuts = [faults.draw_reset() for _ in range(2000)]
    drawn = [c for c in cuts if c is not None]
    assert len(drawn) == pytest.approx(1000, abs=100)
    assert min(drawn) == 1 and max(drawn) == 8
    assert injector().draw_reset() is None


def test_a_stall_blocks_the_event_loop() -> None:
    async def scenario() -> float:
        faults = injector(stall_every_s=0.05, stall_ms=150)
        stalls = asyncio.create_task(faults.stall_loop())
        await asyncio.sleep(0)
        started = time.monotonic()
        await asyncio.sleep(0.06)  # due at 60 ms, but the loop is frozen until ~200 ms
        late = time.monotonic() - started
        stalls.cancel()
        return late

    assert asyncio.run(scenario()) >= 0.15


class SlowRunner:
    def __init__(self, tokens: int, delay_s: float) -> None:
        self.tokens, self.delay_s = tokens, delay_s

    async def run(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        for _ in range(self.tokens):
            await asyncio.sleep(self.delay_s)
            yield Token(" x")
        yield Done("stop", 1, self.tokens, {"total": 1.0})


def registry(runner: SlowRunner, **kwargs: float) -> JobRegistry:
    metrics = AgentMetrics(SimulatedEngine.from_settings(AgentSettings()))
    return JobRegistry(runner, metrics, Serializer(serial=False), **kwargs)  # type: ignore[arg-type]


TURN = TurnRequest(messages=())


def test_jobs_run_report_progress_and_finish() -> None:
    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        jobs = registry(SlowRunner(tokens=5, delay_s=0.01))
        job = jobs.submit(TURN)
        await asyncio.sleep(0.025)
        during = job.view()
        assert job.task is not None
        await job.task
        return during, job.view()

    during, after = asyncio.run(scenario())
    assert during["status"] == "running" and 1 <= during["progress"]["tokens"] < 5  # type: ignore[index]
    assert after["status"] == "succeeded" and after["result"]["message"]["content"] == " x" * 5  # type: ignore[index]


def test_cancel_and_retention() -> None:
    async def scenario() -> None:
        jobs = registry(SlowRunner(tokens=1, delay_s=0.0), keep_max=2, max_active=3)
        done = [jobs.submit(TURN) for _ in range(3)]
        await asyncio.gather(*(j.task for j in done if j.task is not None))
        jobs.submit(TURN)  # pruning happens on access: only the 2 newest finished are kept
        assert jobs.get(done[0].id) is None and jobs.get(done[2].id) is not None

        slow = registry(SlowRunner(tokens=1000, delay_s=0.01), max_active=1)
        job = slow.submit(TURN)
        with pytest.raises(TooManyJobs):
            slow.submit(TURN)
        await asyncio.sleep(0.03)
        cancelled = slow.cancel(job.id)
        assert cancelled is job and job.status == "cancelled"
        assert slow.cancel(job.id) is job and job.status == "cancelled"  # idempotent
        assert job.view()["error"] == {"type": "cancelled", "message": "the task was cancelled",
                                       "code": None}  # fmt: skip
        slow.submit(TURN)  # room again
        await slow.aclose()

    asyncio.run(scenario())
