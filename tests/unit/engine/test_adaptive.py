"""The AIMD controller of adaptive pacing, against simulated targets of known capacity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.config.capacity import check_adaptive_target
from agentload.engine.adaptive import (
    AimdController,
    TargetWindow,
    summarize_trajectory,
)
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000


def serial_latency_ms(users: int, service_ms: float = 100.0) -> float:
    """One request at a time: N users each wait for the N answers ahead of them."""
    return users * service_ms


def test_slow_start_then_settles_just_under_the_target() -> None:
    controller = AimdController(target_ms=500, min_limit=1, max_limit=64, limit=1)
    limits = []
    for _ in range(30):
        controller.decide(serial_latency_ms(controller.limit))
        limits.append(controller.limit)
    # Doubling while far below; 4 users answer in 400 ms, in the hold zone (80-100% of 500).
    assert limits[:3] == [2, 4, 4]
    assert set(limits[-10:]) == {4}
    controller = AimdController(target_ms=500, min_limit=1, max_limit=64, limit=16)
    controller.decide(serial_latency_ms(16))  # 1.6 s: down by a quarter, to 12
    assert controller.limit == 12 and not controller.slow_start
    for _ in range(30):
        controller.decide(serial_latency_ms(controller.limit))
    assert controller.limit == 4


def test_decrease_is_multiplicative_and_bounded() -> None:
    controller = AimdController(target_ms=100, min_limit=2, max_limit=64, limit=40)
    assert controller.decide(1000) == "decrease" and controller.limit == 30
    for _ in range(20):
        controller.decide(1000)
    assert controller.limit == 2 and controller.decide(1000) == "hold"
    assert not controller.slow_start


@settings(max_examples=200, deadline=None)
@given(
    service_ms=st.floats(1, 1000),
    target_ms=st.floats(10, 10_000),
    max_limit=st.integers(1, 500),
    start=st.integers(1, 500),
)
def test_any_serial_target_stays_within_bounds_and_converges(
    service_ms: float, target_ms: float, max_limit: int, start: int
) -> None:
    start = min(start, max_limit)
    controller = AimdController(target_ms, 1, max_limit, start)
    for _ in range(200):
        controller.decide(serial_latency_ms(controller.limit, service_ms))
        assert 1 <= controller.limit <= max_limit
    late = []
    for _ in range(50):
        controller.decide(serial_latency_ms(controller.limit, service_ms))
        late.append(controller.limit)
    # Once settled it saws around the largest limit meeting the target: at most one
    # additive step above it, and no lower than one decrease below it.
    best = max(1, min(max_limit, int((target_ms - 1e-9) // service_ms)))
    assert max(late) <= best + max(1, round(best * 0.1))
    assert min(late) >= min(best, int(best * 0.75) - 1)


def test_target_window_counts_only_requests_due_since_the_last_change() -> None:
    window = TargetWindow(parse_threshold("p95(latency) < 1s"))
    assert window.needed == 20
    window.add(make_record(intended_at=0, sent_at=0, done_at=900 * MS))
    window.reset(now_ns=1000 * MS)
    window.add(make_record(intended_at=500 * MS, sent_at=500 * MS, done_at=5000 * MS))
    for i in range(20):
        at = 1000 * MS + i * MS
        window.add(make_record(intended_at=at, sent_at=at, done_at=at + 200 * MS))
    assert window.samples == 20
    assert window.value_ms() == pytest.approx(200, rel=0.01)


def test_trajectory_summary() -> None:
    trajectory = [
        {"t_s": 0.0, "limit": 1, "observed_ms": None, "action": "start"},
        {"t_s": 1.0, "limit": 2, "observed_ms": 100.0, "action": "increase"},
        {"t_s": 2.0, "limit": 4, "observed_ms": 200.0, "action": "increase"},
        {"t_s": 3.0, "limit": 3, "observed_ms": 600.0, "action": "decrease"},
        {"t_s": 4.0, "limit": 3, "observed_ms": 450.0, "action": "hold"},
    ]
    summary = summarize_trajectory("p95(latency) < 500ms", 500.0, trajectory)
    assert summary["best_meeting_target"] == 3  # 4 was judged at 600 ms
    assert summary["settled_limit"] == 3
    assert (summary["increases"], summary["decreases"], summary["decisions"]) == (2, 1, 4)


def test_targets_must_be_a_latency_held_below_a_limit() -> None:
    assert check_adaptive_target("p95(latency) < 1s") == "p95(latency) < 1s"
    for bad in ("error_rate < 1%", "p95(latency) > 1s", "max(ttft) < 1s", "p95(latency) <"):
        with pytest.raises(ValueError):
            check_adaptive_target(bad)
