"""The capacity search's first estimate: where an adaptive run settles, and a search that
starts its bracket there."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentload.analysis.capacity import CapacitySearch, SearchSettings, expected_steps
from agentload.analysis.capacity_estimate import settled_users, with_rate
from agentload.config.capacity import CapacityConfig
from agentload.engine.adaptive import AimdController
from tests.unit.analysis.test_capacity_search import FakeTarget, search

NS = 1_000_000_000


def trajectory_of(latency_ms_at: Any, target_ms: float, decisions: int) -> list[dict[str, Any]]:
    """The controller of ``load.model: adaptive`` against a latency curve, one decision per
    0.5 s, logged as adaptive.jsonl is."""
    controller = AimdController(target_ms, min_limit=1, max_limit=256, limit=1)
    out: list[dict[str, Any]] = [{"t_s": 0.0, "limit": 1, "action": "start"}]
    for i in range(decisions):
        action = controller.decide(latency_ms_at(controller.limit))
        out.append({"t_s": 0.5 * (i + 1), "limit": controller.limit, "action": action})
    return out


def test_settles_at_the_users_that_hold_the_target() -> None:
    # 10 + 5 ms per user: p95 < 100 ms holds up to 17 users
    trajectory = trajectory_of(lambda n: 10 + 5 * n, 100.0, decisions=30)
    estimate = settled_users(trajectory)
    assert estimate is not None and estimate.basis == "settled"
    assert 13 <= estimate.users <= 18, [e["limit"] for e in trajectory]
    assert estimate.decisions == 30 and estimate.settled_from_s > 0


def test_a_run_that_only_rose_is_a_lower_estimate_and_none_without_decisions() -> None:
    rising = trajectory_of(lambda n: 1.0, 100.0, decisions=4)  # 1 -> 16, still doubling
    estimate = settled_users(rising)
    assert estimate is not None and estimate.basis == "still_rising" and estimate.users == 16
    assert estimate.settled_from_s == 2.0  # when 16 was set
    assert settled_users([{"t_s": 0.0, "limit": 1, "action": "start"}]) is None
    assert settled_users([]) is None


def test_rate_is_the_ok_completions_once_settled() -> None:
    estimate = settled_users(trajectory_of(lambda n: 10 + 5 * n, 100.0, decisions=20))
    assert estimate is not None
    start = estimate.settled_from_s
    done = [int((start + i / 200) * NS) for i in range(400)]  # 200/s for 2 s once settled
    done += [int(0.1 * NS)] * 50  # before it settled: not counted
    rated = with_rate(estimate, done, end_s=start + 2.0)
    assert rated.rate_per_s == pytest.approx(200.0)
    assert with_rate(estimate, done, end_s=start + 0.1).rate_per_s is None  # too short


def test_the_search_starts_at_the_estimate_and_brackets_it() -> None:
    target = FakeTarget(capacity=37.0)
    result = search(target, SearchSettings(start=1, max=1000, estimate=35.0))
    assert target.values[:2] == [35.0, 35.0 * 1.25]
    assert result.capacity is not None and result.first_fail is not None
    assert result.capacity <= 37 < result.first_fail <= result.capacity * 1.1 + 1e-9
    plain = FakeTarget(capacity=37.0)
    search(plain, SearchSettings(start=1, max=1000))
    assert len(target.values) < len(plain.values)
    # an estimate above the capacity probes down from it, and never above it again
    high = FakeTarget(capacity=37.0)
    result = search(high, SearchSettings(start=1, max=1000, estimate=90.0))
    assert high.values[:3] == [90.0, 72.0, 36.0]
    assert max(high.values[1:]) <= 72.0 and result.capacity is not None
    assert result.capacity <= 37 < (result.first_fail or 0)


def test_users_estimate_stays_whole_and_start_still_bounds_it() -> None:
    target = FakeTarget(capacity=13.4)
    result = search(target, SearchSettings(start=1, max=256, integer=True, estimate=2.2))
    assert all(v == int(v) for v in target.values) and target.values[0] == 2
    assert (result.capacity, result.first_fail) == (13, 14)
    below = FakeTarget(capacity=0.5)
    result = search(below, SearchSettings(start=1, max=64, integer=True, estimate=8))
    assert result.status == "below_start" and min(below.values) == 1


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.floats(0.5, 3000),
    estimate=st.floats(0.1, 5000),
    resolution=st.floats(0.02, 0.5),
    fuzz=st.sampled_from([0.0, 0.05]),
    integer=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_estimate_still_brackets_the_truth(
    capacity: float, estimate: float, resolution: float, fuzz: float, integer: bool, seed: int
) -> None:
    settings_ = SearchSettings(
        start=1, max=4000, resolution=resolution, integer=integer, estimate=estimate
    )
    target = FakeTarget(capacity, fuzz, np.random.default_rng(seed).integers(1 << 16))
    result = search(target, settings_)
    assert min(target.values) >= 1 and max(target.values) <= 4000
    assert result.lower <= capacity * (1 + fuzz)
    if result.upper is not None:
        assert result.upper >= capacity * (1 - fuzz)
    if result.status == "found" and fuzz == 0 and not integer:
        assert result.capacity is not None and result.first_fail is not None
        assert result.first_fail / result.capacity - 1 <= resolution + 1e-9
    # Bounded: never more steps than the plain search could take from start.
    span = math.log2(4000)
    assert len(target.values) <= 4 * (span + math.log2(1 / resolution) + 4)


def test_expected_steps_from_an_estimate_are_fewer() -> None:
    wide = SearchSettings(start=1, max=10_000, resolution=0.05)
    assert expected_steps(wide, estimated=True) < expected_steps(wide)


def test_first_estimate_config() -> None:
    config = CapacityConfig(vary="users", start=1, max=64, first_estimate="adaptive")
    assert config.first_estimate == "adaptive" and config.estimate_duration is None
    assert CapacityConfig().first_estimate == "none"
    with pytest.raises(ValidationError, match="vary: users or rate"):
        CapacityConfig(vary="sessions_rate", first_estimate="adaptive")
    with pytest.raises(ValidationError, match="estimate_duration applies"):
        CapacityConfig(estimate_duration="10s")  # type: ignore[arg-type]
    search_ = CapacitySearch(SearchSettings(start=2, max=64, estimate=500))
    assert search_.settings.first == 64  # clamped to the range
