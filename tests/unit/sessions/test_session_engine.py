"""The engine running session shapes on a manual clock: durations, virtual users, personas."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import pairwise
from typing import Any

import yaml

from agentload.api import _plan, scenario_builder
from agentload.config import parse_scenario
from agentload.engine import Engine, RunStatus
from agentload.metrics.sessions import SessionAggregator
from agentload.records.record import Outcome, RequestRecord
from agentload.sessions.personas import SessionShaper
from agentload.testing import FakeClient, ManualClock

MS = 1_000_000


class Collect:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)


async def drive(clock: ManualClock, engine: Engine) -> RunStatus:
    task = asyncio.ensure_future(engine.run())
    for _ in range(1_000_000):
        for _ in range(10):
            await asyncio.sleep(0)
        if task.done():
            break
        clock.advance(MS)
    return await task


def run(load: dict[str, Any], service_ms: int = 10, **extra: Any) -> list[RequestRecord]:
    data = {
        "seed": 4,
        "target": {"base_url": "http://127.0.0.1:1"},
        "load": {"model": "sessions", **load},
        "request": {"prompt_tokens": 5},
        **extra,
    }
    scenario = parse_scenario(yaml.safe_dump(data), source="s.yaml")
    clock = ManualClock()
    sink = Collect()
    engine = Engine(
        _plan(scenario),
        scenario_builder(scenario),
        FakeClient(clock, service_ns=lambda work: service_ms * MS),
        clock,
        [sink],
        grace_s=5.0,
    )
    assert asyncio.run(drive(clock, engine)) is RunStatus.COMPLETE
    return sink.records


def by_session(records: list[RequestRecord]) -> dict[str | None, list[RequestRecord]]:
    sessions: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in records:
        sessions[record.session_id].append(record)
    return sessions


def test_a_session_duration_ends_the_session_not_a_turn_count() -> None:
    records = run(
        {"rate": "10/s", "sessions": 5, "session_duration": "1s", "think_time": "90ms"},
    )
    for turns in by_session(records).values():
        # 10 ms answer + 90 ms think: a turn every 100 ms, none starting after 1 s.
        assert 9 <= len(turns) <= 11
        first = min(r.intended_at for r in turns)
        assert max(r.intended_at for r in turns) < first + 1000 * MS


def test_virtual_users_run_a_bounded_number_of_sessions() -> None:
    records = run({"users": 2, "sessions": 7, "turns": 2, "think_time": "50ms"})
    sessions = by_session(records)
    assert len(sessions) == 7  # `sessions` bounds the closed model too
    assert {r.user for r in records} == {0, 1}
    for user in (0, 1):
        spans = sorted(
            (min(r.intended_at for r in t), max(r.done_at for r in t))
            for t in sessions.values()
            if t[0].user == user
        )
        # a user's next session starts a think time after its last one ended
        assert all(b[0] >= a[1] + 50 * MS for a, b in pairwise(spans))


def test_records_carry_the_persona_and_its_turns() -> None:
    records = run(
        {"rate": "20/s", "sessions": 40, "think_time": "1ms"},
        personas={"one": {"weight": 1, "turns": 1}, "three": {"weight": 1, "turns": 3}},
    )
    for turns in by_session(records).values():
        personas = {r.persona for r in turns}
        assert personas in ({"one"}, {"three"})
        assert len(turns) == (1 if personas == {"one"} else 3)
    assert {r.persona for r in records} == {"one", "three"}


def test_a_session_dropped_at_the_cap_keeps_its_persona() -> None:
    personas = {"one": {"weight": 1, "turns": 1}, "three": {"weight": 2, "turns": 3}}
    records = run(
        {"rate": "100/s", "sessions": 30, "think_time": "5ms", "max_in_flight": 2},
        service_ms=20,
        personas=personas,
    )
    dropped = [r for r in records if r.outcome is Outcome.DROPPED]
    assert len(dropped) >= 10  # 2 at a time, each 20-80 ms long, arriving every 10 ms
    assert {r.persona for r in dropped} == {"one", "three"}
    # the persona it would have had, as drawn for the sessions that ran
    scenario = parse_scenario(
        yaml.safe_dump({"seed": 4, "target": {"base_url": "http://127.0.0.1:1"},
                        "load": {"model": "sessions", "rate": "100/s", "sessions": 30},
                        "request": {"prompt_tokens": 5}, "personas": personas}),
        source="s.yaml",
    )  # fmt: skip
    shaper = SessionShaper(scenario)
    for record in records:
        assert record.session_id is not None
        assert record.persona == shaper.persona_of(int(record.session_id[1:]))
    aggregator = SessionAggregator()
    for record in records:
        aggregator.add(record)
    summary = aggregator.to_dict()
    assert summary is not None
    table: dict[str, dict[str, Any]] = summary["by_persona"]  # type: ignore[assignment]
    # every session, dropped ones included, is in exactly one persona's row
    assert sum(row["sessions"] for row in table.values()) == summary["count"] == 30
