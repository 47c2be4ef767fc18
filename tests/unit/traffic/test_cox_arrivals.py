"""Cox (Poisson–Gamma mixture) arrivals: mean rate, over-dispersion, Poisson given the rate.

For windows aligned with the rate's windows and w <= time_scale long, a count is Poisson
given a gamma rate (mean r, CV cv): mean r·w, variance r·w + (r·w·cv)², so the dispersion
(variance/mean) is 1 + r·w·cv². Tolerances are set from the sampling spread of these
estimates, measured over 100 seeds (all well over four standard deviations); the seeds are
fixed, so every run repeats exactly.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from agentload.traffic import CoxArrivals, schedule_ns

NS_PER_S = 1_000_000_000
SEEDS = (0, 1, 2)
FIXED = settings(derandomize=True, database=None, deadline=None, max_examples=25)


def offsets(process: CoxArrivals, seed: int, duration_s: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ns = schedule_ns(process, rng, duration_s=duration_s, max_count=None)
    return np.fromiter(ns, np.int64) / NS_PER_S


def window_counts(process: CoxArrivals, seed: int, window_s: float, windows: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ns = np.fromiter(
        schedule_ns(process, rng, duration_s=window_s * windows, max_count=None), np.int64
    )
    return np.bincount(ns // round(window_s * NS_PER_S), minlength=windows)[:windows]


def dispersion(counts: np.ndarray) -> float:
    return float(counts.var(ddof=1) / counts.mean())


# (rate, cv, time_scale, relative tolerance on the dispersion: ~5 sd over 3000 windows)
CASES = [
    (20.0, 0.5, 1.0, 0.16),
    (5.0, 1.0, 2.0, 0.22),
    (200.0, 0.2, 0.5, 0.14),
    (2.0, 2.0, 5.0, 0.28),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("rate", "cv", "time_scale", "tol"), CASES)
def test_counts_per_time_scale_window_match_theory(
    rate: float, cv: float, time_scale: float, tol: float, seed: int
) -> None:
    windows = 3000
    counts = window_counts(CoxArrivals(rate, cv, time_scale), seed, time_scale, windows)
    mean = rate * time_scale  # per window
    # The overall rate: the total count's sd is √(windows · (mean + (mean·cv)²)).
    sd = math.sqrt(windows * (mean + (mean * cv) ** 2))
    assert abs(counts.sum() - windows * mean) < 4.5 * sd
    # Over-dispersed, by the negative-binomial amount.
    d = dispersion(counts)
    assert d > 1.0
    assert d == pytest.approx(1 + mean * cv**2, rel=tol)


@pytest.mark.parametrize("seed", SEEDS)
def test_shorter_windows_are_over_dispersed_too(seed: int) -> None:
    # A quarter of the time scale, aligned: still 1 + r·w·cv², with w = time_scale / 4.
    process = CoxArrivals(40.0, 0.5, 2.0)
    counts = window_counts(process, seed, 0.5, 6000)
    assert dispersion(counts) == pytest.approx(1 + 40.0 * 0.5 * 0.25, rel=0.18)


@pytest.mark.parametrize("seed", SEEDS)
def test_arrivals_are_poisson_given_the_rate(seed: int) -> None:
    # Given each window's count, Poisson points are uniform inside it: the position within
    # the window, pooled over all windows, is Uniform(0, 1).
    t = offsets(CoxArrivals(10.0, 1.0, 1.0), seed, 2000.0)
    assert stats.kstest(t % 1.0, stats.uniform.cdf).pvalue > 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_cv_zero_is_poisson(seed: int) -> None:
    t = offsets(CoxArrivals(20.0, 0.0, 1.0), seed, 1000.0)
    gaps = np.diff(t, prepend=0.0)
    assert stats.kstest(gaps, stats.expon(scale=1 / 20.0).cdf).pvalue > 0.01
    counts = np.bincount(np.floor(t).astype(np.int64), minlength=1000)
    assert dispersion(counts) == pytest.approx(1.0, abs=0.2)


@FIXED
@given(
    per_window=st.floats(min_value=0.05, max_value=40.0),
    cv=st.floats(min_value=0.0, max_value=3.0),
    time_scale=st.floats(min_value=0.01, max_value=10.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_achieved_rate_over_any_parameters(
    per_window: float, cv: float, time_scale: float, seed: int
) -> None:
    windows = 2000
    rate = per_window / time_scale
    n = len(offsets(CoxArrivals(rate, cv, time_scale), seed, windows * time_scale))
    sd = math.sqrt(windows * (per_window + (per_window * cv) ** 2))
    assert abs(n - windows * per_window) < 5 * sd


@FIXED
@given(
    # The cost is one gamma draw per window, so keep >= 1/100 arrival per window here.
    per_window=st.floats(min_value=0.01, max_value=1e5),
    cv=st.floats(min_value=0.0, max_value=10.0),  # cv 10: gamma shape 0.01, many empty windows
    time_scale=st.floats(min_value=1e-3, max_value=100.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_offsets_are_finite_non_decreasing_from_zero(
    per_window: float, cv: float, time_scale: float, seed: int
) -> None:
    process = CoxArrivals(per_window / time_scale, cv, time_scale)
    it = process.offsets_s(np.random.default_rng(seed))
    t = np.fromiter(itertools.islice(it, 9000), np.float64)  # crosses a batch boundary
    assert len(t) == 9000
    assert t[0] >= 0.0
    assert np.all(np.isfinite(t))
    assert np.all(np.diff(t) >= 0.0)


def test_same_seed_same_sequence_different_seed_differs() -> None:
    process = CoxArrivals(50.0, 0.8, 0.3)
    a, b, c = (offsets(process, s, 500.0) for s in (5, 5, 6))
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_per_s": 0.0}, "rate"),
        ({"rate_per_s": math.inf}, "rate"),
        ({"cv": -0.1}, "cv"),
        ({"cv": math.nan}, "cv"),
        ({"time_scale_s": 0.0}, "time_scale"),
        ({"time_scale_s": math.inf}, "time_scale"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float], match: str) -> None:
    params = {"rate_per_s": 10.0, "cv": 0.5, "time_scale_s": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        CoxArrivals(**params)
