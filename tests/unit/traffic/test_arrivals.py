"""Arrival processes: distributions (KS, dispersion), achieved rate, determinism, bounds.

Every random test uses fixed seeds (and derandomized hypothesis), so results are exact
repeats: a statistical threshold either holds for these seeds or fails every time.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from agentload.traffic import (
    ArrivalProcess,
    ConstantArrivals,
    GammaArrivals,
    PoissonArrivals,
    arrival_process,
    schedule_ns,
)

NS_PER_S = 1_000_000_000
SEEDS = (0, 1, 2)

# Derandomized: the same examples every run; no example database written.
FIXED = settings(derandomize=True, database=None, deadline=None, max_examples=25)

rates = st.floats(min_value=0.01, max_value=1e5, allow_nan=False, allow_infinity=False)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
processes = st.one_of(
    st.builds(ConstantArrivals, rates),
    st.builds(PoissonArrivals, rates),
    st.builds(GammaArrivals, rates, st.floats(min_value=0.05, max_value=20.0)),
)


def take(process: ArrivalProcess, seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.fromiter(itertools.islice(process.offsets_s(rng), n), dtype=np.float64, count=n)


def gaps(offsets: np.ndarray) -> np.ndarray:
    return np.diff(offsets, prepend=0.0)


def window_counts(process: ArrivalProcess, seed: int, windows: int) -> np.ndarray:
    """Arrivals in each 1-second window over [0, windows)."""
    rng = np.random.default_rng(seed)
    ns = np.fromiter(schedule_ns(process, rng, duration_s=windows, max_count=None), np.int64)
    return np.bincount(ns // NS_PER_S, minlength=windows)


def dispersion(counts: np.ndarray) -> float:
    return float(counts.var(ddof=1) / counts.mean())


# --- Poisson -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rate", [0.5, 20.0, 3000.0])
def test_poisson_gaps_are_exponential(rate: float, seed: int) -> None:
    sample = gaps(take(PoissonArrivals(rate), seed, 20_000))
    result = stats.kstest(sample, stats.expon(scale=1 / rate).cdf)
    assert result.pvalue > 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson_counts_per_second(seed: int) -> None:
    rate = 40.0
    counts = window_counts(PoissonArrivals(rate), seed, windows=2000)
    # Over 2000 windows: se of the mean ~0.14, se of the dispersion ~0.03.
    assert counts.mean() == pytest.approx(rate, rel=0.02)
    assert dispersion(counts) == pytest.approx(1.0, abs=0.12)


# --- Gamma ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_gamma_gaps_match_shape_and_mean(burstiness: float, seed: int) -> None:
    rate = 10.0
    sample = gaps(take(GammaArrivals(rate, burstiness), seed, 20_000))
    dist = stats.gamma(a=burstiness, scale=1 / (rate * burstiness))
    assert stats.kstest(sample, dist.cdf).pvalue > 0.01


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("burstiness", "expected"),
    # For a renewal process the count dispersion tends to the gaps' CV^2 = 1/shape.
    [(0.25, 4.0), (4.0, 0.25)],
)
def test_gamma_burstiness_sets_dispersion(burstiness: float, expected: float, seed: int) -> None:
    counts = window_counts(GammaArrivals(40.0, burstiness), seed, windows=2000)
    d = dispersion(counts)
    assert (d > 1.0) if burstiness < 1 else (d < 1.0)
    assert d == pytest.approx(expected, rel=0.25)


def test_gamma_shape_one_is_poisson_in_distribution() -> None:
    sample = gaps(take(GammaArrivals(5.0, 1.0), 7, 20_000))
    assert stats.kstest(sample, stats.expon(scale=1 / 5.0).cdf).pvalue > 0.01


# --- Constant ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1.0, 3.0, 7.5, 1000.0])
def test_constant_spacing_is_exact(rate: float) -> None:
    offsets = take(ConstantArrivals(rate), 0, 10_000)
    assert offsets[0] == 0.0
    assert offsets.tolist() == [i / rate for i in range(10_000)]


def test_constant_schedule_in_ns() -> None:
    rng = np.random.default_rng(0)
    got = list(schedule_ns(ConstantArrivals(4.0), rng, duration_s=1.0, max_count=None))
    assert got == [0, 250_000_000, 500_000_000, 750_000_000]


# --- Achieved rate -------------------------------------------------------------------------


@FIXED
@given(
    kind=st.sampled_from(["constant", "poisson", "gamma"]),
    rate=st.floats(min_value=0.1, max_value=5000.0),
    burstiness=st.sampled_from([0.5, 1.0, 2.0, 8.0]),
    seed=seeds,
)
def test_achieved_rate_within_two_percent(
    kind: str, rate: float, burstiness: float, seed: int
) -> None:
    process = arrival_process(kind, rate, burstiness if kind == "gamma" else 1.0)
    # Long enough for 100k expected arrivals: the count's relative sd is at most
    # 1/sqrt(100k * 0.5) ~ 0.45% (gamma 0.5), so 2% is over four sd.
    duration = 100_000 / rate
    rng = np.random.default_rng(seed)
    n = sum(1 for _ in schedule_ns(process, rng, duration_s=duration, max_count=None))
    assert n / duration == pytest.approx(rate, rel=0.02)


# --- Determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "process", [PoissonArrivals(50.0), GammaArrivals(50.0, 0.3), GammaArrivals(50.0, 3.0)]
)
def test_same_seed_same_sequence_different_seed_differs(process: ArrivalProcess) -> None:
    # 10k crosses a batch boundary, so batching must be deterministic too.
    a, b, c = take(process, 123, 10_000), take(process, 123, 10_000), take(process, 124, 10_000)
    assert a.tolist() == b.tolist()
    assert not np.array_equal(a, c)


def test_schedule_is_deterministic() -> None:
    process = GammaArrivals(200.0, 0.5)

    def run(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return list(schedule_ns(process, rng, duration_s=30.0, max_count=None))

    assert run(9) == run(9)
    assert run(9) != run(10)


# --- Properties ----------------------------------------------------------------------------


@FIXED
@given(process=processes, seed=seeds)
def test_offsets_are_non_decreasing_and_start_at_or_after_zero(
    process: ArrivalProcess, seed: int
) -> None:
    offsets = take(process, seed, 5000)
    assert offsets[0] >= 0.0
    assert np.all(np.diff(offsets) >= 0.0)
    assert np.all(np.isfinite(offsets))


@FIXED
@given(process=processes, seed=seeds, duration=st.floats(min_value=0.0, max_value=50.0))
def test_schedule_duration_is_an_exact_prefix(
    process: ArrivalProcess, seed: int, duration: float
) -> None:
    # Keep the expected count small whatever the rate.
    duration = duration / getattr(process, "rate_per_s", 1.0)
    end_ns = round(duration * NS_PER_S)
    got = list(
        schedule_ns(process, np.random.default_rng(seed), duration_s=duration, max_count=None)
    )
    unbounded = schedule_ns(process, np.random.default_rng(seed), duration_s=None, max_count=10**9)
    prefix = list(itertools.islice(unbounded, len(got) + 1))
    assert got == prefix[: len(got)]
    assert all(ns < end_ns for ns in got)
    assert prefix[len(got)] >= end_ns  # stopped at the first offset at or past the bound
    assert got == sorted(got)


@FIXED
@given(process=processes, seed=seeds, max_count=st.integers(min_value=0, max_value=9000))
def test_schedule_max_count_is_exact(process: ArrivalProcess, seed: int, max_count: int) -> None:
    got = list(
        schedule_ns(process, np.random.default_rng(seed), duration_s=None, max_count=max_count)
    )
    assert len(got) == max_count
    assert got == sorted(got)


@FIXED
@given(
    process=processes,
    seed=seeds,
    duration=st.floats(min_value=0.0, max_value=20.0),
    max_count=st.integers(min_value=0, max_value=50),
)
def test_schedule_both_bounds_stop_at_whichever_comes_first(
    process: ArrivalProcess, seed: int, duration: float, max_count: int
) -> None:
    duration = duration / getattr(process, "rate_per_s", 1.0)
    by_duration = list(
        schedule_ns(process, np.random.default_rng(seed), duration_s=duration, max_count=None)
    )
    both = list(
        schedule_ns(process, np.random.default_rng(seed), duration_s=duration, max_count=max_count)
    )
    assert both == by_duration[:max_count]


def test_schedule_is_lazy_over_an_infinite_process() -> None:
    it = schedule_ns(PoissonArrivals(1e6), np.random.default_rng(0), duration_s=1e9, max_count=None)
    assert len(list(itertools.islice(it, 3))) == 3


# --- Validation ----------------------------------------------------------------------------


BAD_RATES = [0.0, -1.0, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("rate", BAD_RATES)
@pytest.mark.parametrize("kind", ["constant", "poisson", "gamma"])
def test_bad_rate_is_rejected(kind: str, rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        arrival_process(kind, rate)


@pytest.mark.parametrize("burstiness", [0.0, -0.5, math.nan, math.inf])
def test_bad_burstiness_is_rejected(burstiness: float) -> None:
    with pytest.raises(ValueError, match="burstiness"):
        GammaArrivals(10.0, burstiness)


def test_factory_builds_each_kind() -> None:
    assert arrival_process("constant", 2.0) == ConstantArrivals(2.0)
    assert arrival_process("poisson", 2.0) == PoissonArrivals(2.0)
    assert arrival_process("gamma", 2.0, 0.5) == GammaArrivals(2.0, 0.5)


def test_factory_rejects_unknown_kind_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="constant, poisson, gamma"):
        arrival_process("uniform", 1.0)


def test_factory_rejects_burstiness_for_non_gamma() -> None:
    with pytest.raises(ValueError, match="burstiness"):
        arrival_process("poisson", 1.0, burstiness=0.5)


@pytest.mark.parametrize(
    ("duration_s", "max_count", "match"),
    [
        (None, None, "duration_s or max_count"),
        (-1.0, None, "duration_s"),
        (math.nan, None, "duration_s"),
        (math.inf, None, "duration_s"),
        (None, -1, "max_count"),
    ],
)
def test_schedule_rejects_bad_bounds_at_call_time(
    duration_s: float | None, max_count: int | None, match: str
) -> None:
    rng = np.random.default_rng(0)
    # Raised by the call itself, before any iteration.
    with pytest.raises(ValueError, match=match):
        schedule_ns(PoissonArrivals(1.0), rng, duration_s=duration_s, max_count=max_count)
