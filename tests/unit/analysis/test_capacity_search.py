"""The capacity search against fake targets whose true capacity is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.capacity import (
    CapacitySearch,
    Observation,
    SearchResult,
    SearchSettings,
    expected_steps,
)


class FakeTarget:
    """Passes below ``capacity``, fails above; within ``fuzz`` of it the verdict is not
    confident and the point estimate is a coin flip (seeded)."""

    def __init__(self, capacity: float, fuzz: float = 0.0, seed: int = 0) -> None:
        self.capacity = capacity
        self.fuzz = fuzz
        self.rng = np.random.default_rng(seed)
        self.values: list[float] = []

    def step(self, value: float) -> Observation:
        self.values.append(value)
        ratio = value / self.capacity
        completed = min(value, self.capacity)
        if abs(ratio - 1) < self.fuzz:
            lean = "pass" if self.rng.random() < 0.5 else "fail"
            return Observation(value, "uncertain", lean, completed_per_s=completed)
        verdict = "pass" if ratio <= 1 else "fail"
        return Observation(value, verdict, verdict, completed_per_s=completed)


def search(target: FakeTarget, settings: SearchSettings, limit: int = 200) -> SearchResult:
    machine = CapacitySearch(settings)
    for _ in range(limit):
        planned = machine.next_step()
        if planned is None:
            return machine.result()
        machine.observe(target.step(planned.value))
    raise AssertionError("the search did not end")


def test_probe_doubles_then_bisects_to_the_resolution() -> None:
    target = FakeTarget(capacity=37.0)
    result = search(target, SearchSettings(start=1, max=1000, resolution=0.1))
    assert target.values[:7] == [1, 2, 4, 8, 16, 32, 64]
    assert result.status == "found"
    assert result.capacity is not None and result.first_fail is not None
    assert result.capacity <= 37 < result.first_fail
    assert result.first_fail / result.capacity - 1 <= 0.1 + 1e-9
    assert (result.lower, result.upper) == (result.capacity, result.first_fail)
    # Nothing above the first failing value is ever offered again.
    assert max(target.values[7:]) < 64


def test_start_failing_and_max_passing() -> None:
    below = search(FakeTarget(capacity=0.5), SearchSettings(start=1, max=100))
    assert below.status == "below_start" and below.capacity is None and below.upper == 1
    at_max = search(FakeTarget(capacity=500), SearchSettings(start=1, max=100))
    assert at_max.status == "at_max" and at_max.capacity == 100 and at_max.upper is None


def test_uncertain_steps_are_repeated_then_called_on_the_point_estimate() -> None:
    target = FakeTarget(capacity=10.0, fuzz=0.5, seed=3)  # 5..15 is never confident
    result = search(target, SearchSettings(start=1, max=100, resolution=0.1, repeats=3))
    unconfident = [d for d in result.decisions if not d.confident]
    assert unconfident and all(d.runs == 3 for d in unconfident)
    # Bounds use confident calls only: they bracket the zone where calls were guesses
    # (no confident failure was seen: the upper bound is unknown, not the guess).
    assert result.capacity is not None and 5 <= result.capacity <= 15
    assert result.lower <= 5 and (result.upper is None or result.upper >= 15)


class UnluckyOnce(FakeTarget):
    """Fails its first step at ``unlucky`` (a noisy neighbour), then behaves."""

    def __init__(self, capacity: float, unlucky: float) -> None:
        super().__init__(capacity)
        self.unlucky = unlucky

    def step(self, value: float) -> Observation:
        if value == self.unlucky and value not in self.values:
            self.values.append(value)
            return Observation(value, "fail", "fail", completed_per_s=value)
        return super().step(value)


def test_a_boundary_that_does_not_hold_on_a_second_run_moves_the_search_on() -> None:
    target = UnluckyOnce(capacity=37.0, unlucky=16.0)
    result = search(target, SearchSettings(start=1, max=1000, resolution=0.1))
    assert target.values.count(16.0) == 2  # the failure at 16 was checked once more ...
    assert 64 in target.values  # ... and, passing, the probe went on
    assert result.capacity is not None and result.capacity <= 37 < (result.first_fail or 0)
    calls_at_16 = [d.call for d in result.decisions if d.value == 16]
    assert calls_at_16 == ["fail", "pass"]
    # Both final boundaries were run twice; besides them only the first, wrong, boundary.
    repeated = {v for v in target.values if target.values.count(v) > 1}
    assert {16.0, result.capacity, result.first_fail} <= repeated
    assert len(repeated) == 4 and max(target.values.count(v) for v in repeated) == 2


def test_saturation_and_plateau_fail_at_once() -> None:
    machine = CapacitySearch(SearchSettings(start=1, max=64))
    machine.observe(Observation(1, "pass", "pass", completed_per_s=1.0))
    decision = machine.observe(Observation(2, "pass", "pass", completed_per_s=1.05))
    assert decision is not None and decision.call == "fail" and decision.reason == "plateau"
    machine = CapacitySearch(SearchSettings(start=1, max=64, repeats=3))
    decision = machine.observe(Observation(1, "uncertain", "pass", saturated=True))
    assert decision is not None and decision.call == "fail" and decision.confident


def test_users_are_whole_numbers_and_end_as_neighbours() -> None:
    target = FakeTarget(capacity=13.4)
    result = search(target, SearchSettings(start=1, max=256, resolution=0.01, integer=True))
    assert all(v == int(v) for v in target.values)
    assert (result.capacity, result.first_fail) == (13, 14)


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.floats(0.2, 5000),
    start=st.floats(0.5, 10),
    span=st.floats(2, 2000),
    resolution=st.floats(0.02, 0.5),
    fuzz=st.sampled_from([0.0, 0.02, 0.1]),
    repeats=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_any_target_ends_bounded_and_brackets_the_truth(
    capacity: float,
    start: float,
    span: float,
    resolution: float,
    fuzz: float,
    repeats: int,
    seed: int,
) -> None:
    settings_ = SearchSettings(
        start=start, max=start * span, resolution=resolution, repeats=repeats
    )
    target = FakeTarget(capacity, fuzz, seed)
    result = search(target, settings_)
    probes = math.ceil(math.log2(span)) + 1
    bisections = math.ceil(math.log2(math.log(2) / math.log1p(resolution))) + 1
    assert len(target.values) <= 2 * (probes + bisections) * max(repeats, 2)
    assert max(target.values) <= settings_.max
    # At most one step of each probe doubling lies above the first failure.
    first_fail = next((v for v in target.values if v > capacity * (1 + fuzz)), None)
    if first_fail is not None:
        after = target.values[target.values.index(first_fail) + 1 :]
        assert all(v <= first_fail for v in after)
    # Confident calls are right, so the bounds hold the truth (up to the fuzz).
    assert result.lower <= capacity * (1 + fuzz)
    if result.upper is not None:
        assert result.upper >= capacity * (1 - fuzz)
    if result.status == "found" and fuzz == 0:
        assert result.capacity is not None and result.first_fail is not None
        assert result.first_fail / result.capacity - 1 <= resolution + 1e-9


def test_expected_steps_grows_with_the_range_and_the_resolution() -> None:
    narrow = expected_steps(SearchSettings(start=1, max=10, resolution=0.2))
    wide = expected_steps(SearchSettings(start=1, max=10_000, resolution=0.05))
    assert 3 <= narrow < wide <= 20


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SearchSettings(start=10, max=5)
    with pytest.raises(ValueError):
        SearchSettings(start=1, max=5, resolution=1.5)
