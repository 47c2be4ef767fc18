"""Distributions of turns, think time and lengths: written forms, bounds, and their shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentload.config.sessions import Distribution
from agentload.sessions.distributions import count_sampler, mean_of, sampler


def test_written_forms() -> None:
    assert Distribution.model_validate("2s") == Distribution(kind="fixed", value=2.0)
    assert Distribution.model_validate(3).kind == "fixed"
    uniform = Distribution.model_validate({"min": "1s", "max": "3s"})
    assert (uniform.kind, uniform.min, uniform.max) == ("uniform", 1.0, 3.0)
    assert Distribution.model_validate({"median": 4}).kind == "lognormal"
    assert Distribution.model_validate({"mean": "250ms"}).mean == 0.25
    empirical = Distribution.model_validate({"values": [1, 2], "weights": [3, 1]})
    assert empirical.kind == "empirical"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "fixed"}, "needs value"),
        ({"kind": "lognormal"}, "needs median"),
        ({"kind": "exponential"}, "needs mean"),
        ({"kind": "uniform", "min": 1}, "needs min and max"),
        ({"min": 3, "max": 1}, "max must be at least min"),
        ({"kind": "empirical", "values": [1, 2], "weights": [1]}, "one entry per value"),
        ({"kind": "lognormal", "median": 2, "values": [1]}, "belong to kind: empirical"),
    ],
)
def test_incomplete_distributions_say_what_is_missing(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Distribution.model_validate(data)


DISTRIBUTIONS = st.one_of(
    st.builds(
        lambda m, s, lo, span: Distribution(
            kind="lognormal", median=m, sigma=s, min=lo, max=lo + span
        ),
        st.floats(0.01, 100), st.floats(0, 3), st.floats(0, 10), st.floats(0, 100),
    ),
    st.builds(
        lambda mean, lo: Distribution(kind="exponential", mean=mean, min=lo),
        st.floats(0.01, 100), st.floats(0, 10),
    ),
    st.builds(
        lambda lo, span: Distribution(kind="uniform", min=lo, max=lo + span),
        st.floats(0, 100), st.floats(0, 100),
    ),
    st.builds(
        lambda values: Distribution(kind="empirical", values=tuple(values)),
        st.lists(st.floats(0, 1000), min_size=1, max_size=8),
    ),
    st.builds(lambda v: Distribution(kind="fixed", value=v), st.floats(0, 1000)),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(DISTRIBUTIONS, st.integers(0, 2**32))
def test_draws_stay_in_bounds_and_repeat_with_the_seed(dist: Distribution, seed: int) -> None:
    draw = sampler(dist)
    first = [draw(np.random.default_rng(seed)) for _ in range(3)]
    rng = np.random.default_rng(seed)
    values = [draw(rng) for _ in range(200)]
    assert first == [draw(np.random.default_rng(seed)) for _ in range(3)]
    high = dist.max if dist.max is not None else float("inf")
    assert all(dist.min <= v <= high for v in values)
    if dist.kind == "empirical":
        assert set(values) <= set(dist.values)
    counts = count_sampler(dist)(np.random.default_rng(seed))
    assert counts >= 1 and isinstance(counts, int)


def test_shapes_match_their_parameters() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    lognormal = sampler(Distribution(kind="lognormal", median=4, sigma=0.5))
    draws = np.array([lognormal(rng) for _ in range(n)])
    assert abs(np.median(draws) - 4) < 0.15
    assert abs(np.std(np.log(draws)) - 0.5) < 0.02
    exponential = Distribution(kind="exponential", mean=2.0)
    draws = np.array([sampler(exponential)(rng) for _ in range(n)])
    assert abs(draws.mean() - 2.0) < 0.08 and mean_of(exponential) == 2.0
    empirical = sampler(Distribution(kind="empirical", values=(1, 2, 8), weights=(5, 3, 2)))
    draws = np.array([empirical(rng) for _ in range(n)])
    shares = [float(np.mean(draws == v)) for v in (1, 2, 8)]
    assert shares == pytest.approx([0.5, 0.3, 0.2], abs=0.02)
    uniform = sampler(Distribution(kind="uniform", min=1, max=3))
    draws = np.array([uniform(rng) for _ in range(n)])
    assert draws.min() >= 1 and draws.max() <= 3 and abs(draws.mean() - 2) < 0.03


def test_clamps_apply_to_unbounded_kinds() -> None:
    draw = sampler(Distribution(kind="exponential", mean=100, max=5))
    rng = np.random.default_rng(0)
    assert max(draw(rng) for _ in range(500)) == 5
    turns = count_sampler(Distribution(kind="lognormal", median=4, sigma=2, min=2, max=6))
    assert {turns(rng) for _ in range(500)} <= set(range(2, 7))
