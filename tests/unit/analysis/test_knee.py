"""Kneedle on known curves, including a batch-size sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.analysis.knee import find_knee

BATCH = [1, 8, 32]
LATENCY_MS = [12, 38, 110]
THROUGHPUT_PER_S = [83, 210, 290]


def test_batch_sweep_knee_is_at_batch_8() -> None:
    by_batch = find_knee(BATCH, THROUGHPUT_PER_S)
    assert by_batch is not None and by_batch.x == 8 and by_batch.index == 1
    assert (by_batch.curve, by_batch.direction) == ("concave", "increasing")
    # Latency against throughput: the same operating point, seen as an elbow.
    by_load = find_knee(THROUGHPUT_PER_S, LATENCY_MS)
    assert by_load is not None and by_load.index == 1 and by_load.x == 210
    assert by_load.curve == "convex"


def test_saturating_curve_matches_the_analytic_knee() -> None:
    # y = 1 - exp(-2x) on [0, 5]: d/dx (y_n - x_n) = 0 at x = ln(10) / 2 ≈ 1.151.
    x = np.linspace(0, 5, 501)
    knee = find_knee(x, 1 - np.exp(-2 * x))
    assert knee is not None and knee.x == pytest.approx(math.log(10) / 2, abs=0.01)


def test_decreasing_and_convex_curves() -> None:
    x = np.linspace(0, 5, 501)
    decaying = find_knee(x, np.exp(-2 * x))
    assert decaying is not None and decaying.direction == "decreasing"
    assert decaying.curve == "convex" and decaying.x == pytest.approx(math.log(10) / 2, abs=0.01)
    # Latency against load for an M/M/1 queue, 1/(1 - rho): the elbow sits before saturation.
    rho = np.linspace(0.0, 0.95, 96)
    elbow = find_knee(rho, 1 / (1 - rho))
    assert elbow is not None and elbow.curve == "convex" and 0.6 < elbow.x < 0.9


def test_explicit_shape_and_unsorted_input() -> None:
    knee = find_knee([32, 1, 8], [290, 83, 210], curve="concave", direction="increasing")
    assert knee is not None and knee.index == 2 and knee.x == 8  # index into the input


def test_no_knee_for_lines_flat_curves_or_too_few_points() -> None:
    assert find_knee([1, 2, 3, 4], [2, 4, 6, 8]) is None
    assert find_knee([1, 2, 3], [5, 5, 5]) is None
    assert find_knee([1, 2], [1, 5]) is None
    with pytest.raises(ValueError):
        find_knee([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        find_knee([1, 2, math.nan], [1, 2, 3])


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=30, unique=True),
    st.lists(st.floats(-1e6, 1e6), min_size=30, max_size=30),
)
def test_any_finite_curve_gives_a_point_of_it_or_none(xs: list[float], ys: list[float]) -> None:
    ys = ys[: len(xs)]
    knee = find_knee(xs, ys)
    if knee is not None:
        assert xs[knee.index] == knee.x and ys[knee.index] == knee.y
        assert 0 < knee.score <= 1 + 1e-9
