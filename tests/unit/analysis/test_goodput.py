"""Goodput: which thresholds become per-request objectives, and which requests are good."""

from __future__ import annotations

import pytest

from agentload.analysis.goodput import GoodputCounter, is_good, objectives, request_value
from agentload.records.record import ErrorKind, Outcome
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000


def parsed(*texts: str) -> list:  # type: ignore[type-arg]
    return [parse_threshold(t) for t in texts]


def test_only_upper_bounds_on_per_request_durations_are_objectives() -> None:
    kept = objectives(
        parsed(
            "p99(latency) < 2s",
            "avg(ttft{action=a}) <= 1s",
            "max(itl) < 50ms",
            "min(latency) < 1s",  # a bound on the fastest request, not on each
            "p99(latency) > 1ms",
            "p99(schedule_lag) < 5ms",  # the generator, not the service
            "error_rate < 1%",
            "rate(ok) > 1/s",
            "p99(latency{persona=x}) < 1s",
            "max(generator_loop_lag) < 50ms",  # the generator, once per sample
            "trustworthy == true",
        )
    )
    assert [t.source for t in kept] == [
        "p99(latency) < 2s",
        "avg(ttft{action=a}) <= 1s",
        "max(itl) < 50ms",
        "p99(latency{persona=x}) < 1s",
    ]


def test_a_request_is_good_when_ok_and_under_every_limit_that_selects_it() -> None:
    goals = objectives(parsed("p99(latency) < 100ms", "p95(ttft{action=a}) < 20ms"))
    assert is_good(make_record(action="a", first_token_at=10 * MS, done_at=99 * MS), goals)
    assert not is_good(make_record(action="a", first_token_at=10 * MS, done_at=100 * MS), goals)
    assert not is_good(make_record(action="a", first_token_at=20 * MS, done_at=50 * MS), goals)
    assert is_good(make_record(action="b", first_token_at=20 * MS, done_at=50 * MS), goals)
    failed = make_record(outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_5XX, done_at=1 * MS)
    assert not is_good(failed, goals)
    assert not is_good(make_record(action="a", first_token_at=None, done_at=50 * MS), goals)
    assert is_good(failed.__replace__(outcome=Outcome.OK, error_kind=None), [])


def test_itl_uses_the_threshold_aggregate_over_the_request_gaps() -> None:
    record = make_record(itl_ms=tuple(float(i) for i in range(1, 101)))
    assert request_value(parse_threshold("p99(itl) < 1s"), record) == 99.0
    assert request_value(parse_threshold("p50(itl) < 1s"), record) == 50.0
    assert request_value(parse_threshold("max(itl) < 1s"), record) == 100.0
    assert request_value(parse_threshold("avg(itl) < 1s"), record) == 50.5


def test_counter_overall_and_per_action() -> None:
    counter = GoodputCounter(parsed("p99(latency) < 50ms", "error_rate < 1%"))
    for i in range(10):
        counter.add(make_record(seq=i, action="a", done_at=(10 + 10 * i) * MS))  # 4 under 50
    counter.add(make_record(action="b", outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_5XX))
    result = counter.result(2.0, actions=["a", "b"])
    assert result.objectives == ("p99(latency) < 50ms",)
    assert result.good == 4 and result.per_s == 2.0
    assert result.per_action == {"a": (4, 2.0), "b": (0, 0.0)}
    assert result.to_dict()["per_action"]["b"] == {"good": 0, "per_s": 0.0}
    assert counter.result(None).per_s is None


def test_no_objectives_means_every_ok_request_is_good() -> None:
    counter = GoodputCounter([])
    counter.add(make_record())
    counter.add(make_record(outcome=Outcome.DROPPED, sent_at=None))
    assert counter.result(1.0).good == 1
    assert counter.result(1.0).per_s == pytest.approx(1.0)
