"""The between-run parts of the compare statistics: time blocks, batch-means rates, widening."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.analysis import compare as compare_module
from agentload.analysis import compare_stats as cs
from agentload.analysis.compare import BETWEEN_RUN_FACTOR, compare
from agentload.analysis.compare_samples import load_run_samples
from tests.unit.analysis.test_compare import make_run


@given(n=st.integers(1, 10_000_000))
def test_blocks_are_at_most_BLOCKS_and_at_least_cube_root_long(n: int) -> None:
    length = cs.block_length(n)
    assert math.ceil(n / length) <= cs.BLOCKS
    assert length >= math.ceil(n ** (1 / 3)) - 1


@given(
    low=st.floats(-1e6, 1e6),
    width=st.floats(0, 1e6),
    at=st.floats(0, 1),
    factor=st.floats(1, 10),
)
def test_widening_keeps_the_centre_and_contains_the_interval(
    low: float, width: float, at: float, factor: float
) -> None:
    interval = cs.Interval(low, low + width)
    centre = low + at * width
    wide = cs.widened(interval, centre, factor)
    assert wide.low <= interval.low + 1e-6 and wide.high >= interval.high - 1e-6
    assert math.isclose(centre - wide.low, factor * (centre - interval.low), abs_tol=1e-6)


def test_batch_means_see_a_rate_that_wandered() -> None:
    rng = np.random.default_rng(4)
    steady = rng.poisson(5, size=400)  # 5 per bin throughout
    wandering = np.concatenate([rng.poisson(2, size=200), rng.poisson(8, size=200)])
    steady_se, wandering_se = cs.window_rate_se(steady), cs.window_rate_se(wandering)
    assert steady_se is not None and wandering_se is not None
    # Poisson alone: sqrt(2000) / 400 bins ≈ 0.11 per bin for both
    assert steady_se < 0.2 < 0.5 < wandering_se
    assert cs.window_rate_se(np.array([3, 4, 5])) is None  # too short for two windows


def test_every_interval_is_widened_by_the_between_run_factor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seed of the bootstrap, factor 1 vs the default: each interval of the change is
    the within-run one stretched about the observed change (for percentiles, on the log scale
    of the ratio), so a borderline shift that the
    within-run interval alone calls a regression becomes no change."""
    base = load_run_samples(make_run(tmp_path / "base", 1, n=1500, error_p=0.05))
    new = load_run_samples(make_run(tmp_path / "new", 2, n=1500, scale_ms=54.0, error_p=0.05))
    wide = {m.name: m for m in compare(base, new, seed=1).metrics}
    monkeypatch.setattr(compare_module, "BETWEEN_RUN_FACTOR", 1.0)
    narrow = {m.name: m for m in compare(base, new, seed=1).metrics}
    for name, m in wide.items():
        if m.verdict == "inconclusive":
            continue
        n = narrow[name]
        assert m.ci_low is not None and m.ci_high is not None
        assert n.ci_low is not None and n.ci_high is not None
        if m.unit == "ms":  # percentiles: an interval of the ratio new / base, log scale
            assert m.base is not None
            width = math.log1p(m.ci_high / m.base) - math.log1p(m.ci_low / m.base)
            narrow_width = math.log1p(n.ci_high / m.base) - math.log1p(n.ci_low / m.base)
            assert width == pytest.approx(BETWEEN_RUN_FACTOR * narrow_width)
        else:
            assert m.ci_high - m.ci_low == pytest.approx(
                BETWEEN_RUN_FACTOR * (n.ci_high - n.ci_low)
            )
    flipped = [
        k for k in wide if narrow[k].verdict == "regressed" and wide[k].verdict != "regressed"
    ]
    assert flipped, {k: (narrow[k].verdict, wide[k].verdict) for k in wide}
