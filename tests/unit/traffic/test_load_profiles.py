"""Load profiles: segment math, count(t) against the integrated rate Λ(t), time rescaling.

For a Poisson profile, N(t) is Poisson with mean Λ(t), so |N(t) − Λ(t)| < 4.5·√Λ(t) holds
except with odds below 1e-5; with constant spacing N(t) = ⌈Λ(t)⌉ exactly. Seeds are fixed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from agentload.traffic import (
    Hold,
    ProfileArrivals,
    Ramp,
    RateProfile,
    Segment,
    Sine,
    schedule_ns,
    spike,
    step,
)

SEEDS = (0, 1, 2)
FIXED = settings(derandomize=True, database=None, deadline=None, max_examples=30)

# Every kind of segment, a pause, a ramp down to 0 and a sine touching 0: 12 minutes.
SHAPES: list[Segment] = [
    Ramp(60.0, 0.0, 40.0),
    Hold(30.0, 0.0),
    *spike(120.0, 10.0, 90.0, at_s=50.0, width_s=10.0),
    *step([(30.0, 5.0), (30.0, 25.0)]),
    Sine(300.0, 20.0, 20.0, period_s=100.0, phase_s=10.0),
    Ramp(150.0, 30.0, 0.0),
]
PROFILE = RateProfile(SHAPES)
CHECK_TIMES = [10.0, 60.0, 75.0, 90.0, 145.0, 175.0, 240.0, 333.3, 500.0, 600.0, 700.0, 720.0]


def offsets(process: ProfileArrivals, seed: int = 0) -> np.ndarray:
    return np.fromiter(process.offsets_s(np.random.default_rng(seed)), np.float64)


def count_before(t: np.ndarray, at: float) -> int:
    return int(np.searchsorted(t, at, side="left"))


# --- Segments ------------------------------------------------------------------------------


SEGMENTS: list[Segment] = [
    Hold(12.0, 7.5),
    Ramp(20.0, 3.0, 50.0),
    Ramp(20.0, 50.0, 0.0),
    Ramp(5.0, 0.0, 0.0001),
    Sine(45.0, 10.0, 4.0, period_s=13.0, phase_s=2.0),
    Sine(30.0, 5.0, 5.0, period_s=30.0),
]


@pytest.mark.parametrize("seg", SEGMENTS, ids=repr)
def test_segment_integral_matches_quadrature(seg: Segment) -> None:
    for t in np.linspace(0.0, seg.duration_s, 7):
        quad, _ = integrate.quad(lambda x: float(seg.rate(np.array([x]))[0]), 0.0, t, limit=200)
        assert float(seg.integral(np.array([t]))[0]) == pytest.approx(quad, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seg", SEGMENTS, ids=repr)
def test_segment_inverse_undoes_the_integral(seg: Segment) -> None:
    t = np.linspace(0.0, seg.duration_s, 101)[1:]
    y = seg.integral(t)
    back = seg.inverse(y)
    assert seg.integral(back) == pytest.approx(y, rel=1e-12, abs=1e-9)
    assert np.all(np.diff(back) >= 0)
    # Where the rate touches 0, Λ is flat and t is ill-conditioned; elsewhere it is exact.
    steep = seg.rate(t) > 0.1
    assert back[steep] == pytest.approx(t[steep], rel=1e-9, abs=1e-9)


def test_segment_rates_at_known_points() -> None:
    ramp = Ramp(10.0, 2.0, 12.0)
    assert ramp.rate(np.array([0.0, 5.0, 10.0])).tolist() == [2.0, 7.0, 12.0]
    # phase = period / 4: the wave starts at its peak and is back at the mean at period / 4.
    sine = Sine(100.0, 10.0, 4.0, period_s=40.0, phase_s=10.0)
    assert sine.rate(np.array([0.0, 10.0, 20.0])) == pytest.approx([14.0, 10.0, 6.0])


def test_step_and_spike_build_holds() -> None:
    assert step([(10.0, 1.0), (5.0, 0.0)]) == (Hold(10.0, 1.0), Hold(5.0, 0.0))
    assert spike(60.0, 10.0, 40.0, at_s=20.0, width_s=5.0) == (
        Hold(20.0, 10.0),
        Hold(5.0, 50.0),  # the height is added to the base
        Hold(35.0, 10.0),
    )
    # A spike at the start or filling the end leaves no empty segment.
    assert spike(10.0, 1.0, 2.0, at_s=0.0, width_s=4.0) == (Hold(4.0, 3.0), Hold(6.0, 1.0))
    assert spike(10.0, 1.0, 2.0, at_s=6.0, width_s=4.0) == (Hold(6.0, 1.0), Hold(4.0, 3.0))


# --- The profile ---------------------------------------------------------------------------


def test_profile_rate_and_integral_chain_the_segments() -> None:
    assert PROFILE.duration_s == 720.0
    assert PROFILE.rate(30.0) == 20.0  # ramp halfway
    assert PROFILE.rate(70.0) == 0.0  # pause
    assert PROFILE.rate(145.0) == 100.0  # in the spike: 90 + 50 .. 90 + 60
    assert PROFILE.rate(-1.0) == 0.0
    assert PROFILE.rate(720.0) == 0.0
    assert PROFILE.integral(60.0) == pytest.approx(1200.0)
    assert PROFILE.integral(90.0) == pytest.approx(1200.0)  # nothing during the pause
    assert PROFILE.integral(-5.0) == 0.0
    assert PROFILE.integral(1e6) == PROFILE.total
    quad, _ = integrate.quad(
        PROFILE.rate, 0.0, 720.0, points=[60, 90, 140, 150, 210, 240, 270, 570]
    )
    assert PROFILE.total == pytest.approx(quad, rel=1e-7)
    # Vectorised form agrees with the scalar one.
    grid = np.array(CHECK_TIMES)
    assert PROFILE.integral(grid).tolist() == [PROFILE.integral(t) for t in CHECK_TIMES]


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson_count_follows_the_integrated_rate(seed: int) -> None:
    t = offsets(ProfileArrivals(PROFILE), seed)
    for at in CHECK_TIMES:
        expected = PROFILE.integral(at)
        assert abs(count_before(t, at) - expected) < 4.5 * math.sqrt(expected), at


@pytest.mark.parametrize("seed", SEEDS)
def test_rescaled_gaps_are_unit_exponential(seed: int) -> None:
    t = offsets(ProfileArrivals(PROFILE), seed)
    rescaled = np.diff(PROFILE.integral(t), prepend=0.0)
    assert stats.kstest(rescaled, stats.expon.cdf).pvalue > 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_gamma_spacing_rescaled_gaps_are_gamma(seed: int) -> None:
    t = offsets(ProfileArrivals(PROFILE, "gamma", burstiness=0.4), seed)
    rescaled = np.diff(PROFILE.integral(t), prepend=0.0)
    assert stats.kstest(rescaled, stats.gamma(a=0.4, scale=1 / 0.4).cdf).pvalue > 0.01


def standardized_counts(spacing: str, burstiness: float = 1.0) -> np.ndarray:
    """(count - expected) / sqrt(expected) per 5 s window, pooled over the seeds; windows
    expecting fewer than 10 arrivals (the pause, the ends of ramps) are left out."""
    edges = np.arange(0.0, PROFILE.duration_s + 1e-9, 5.0)
    expected = np.diff(PROFILE.integral(edges))
    keep = expected >= 10
    pooled = []
    for seed in SEEDS:
        t = offsets(ProfileArrivals(PROFILE, spacing, burstiness=burstiness), seed)
        counts = np.histogram(t, bins=edges)[0]
        pooled.append((counts[keep] - expected[keep]) / np.sqrt(expected[keep]))
    return np.concatenate(pooled)


def test_poisson_counts_per_window_have_poisson_mean_and_dispersion() -> None:
    z = standardized_counts("poisson")
    # ~400 windows: se of the mean ~0.05, of the variance ~0.07
    assert len(z) > 300
    assert abs(z.mean()) < 0.2
    assert z.var(ddof=1) == pytest.approx(1.0, abs=0.3)


def test_gamma_spacing_sets_the_dispersion_of_counts_per_window() -> None:
    # A renewal process in integrated-rate time: the count dispersion tends to CV^2 = 1/shape.
    bursty = standardized_counts("gamma", burstiness=0.4).var(ddof=1)
    smooth = standardized_counts("gamma", burstiness=4.0).var(ddof=1)
    assert bursty == pytest.approx(2.5, rel=0.3)
    assert smooth == pytest.approx(0.25, rel=0.4)


def test_constant_spacing_gives_exact_counts() -> None:
    t = offsets(ProfileArrivals(PROFILE, "constant"))
    assert len(t) == math.ceil(PROFILE.total)
    grid = np.linspace(0.0, PROFILE.duration_s, 5001)
    lam = PROFILE.integral(grid)
    clear = np.abs(lam - np.round(lam)) > 1e-6  # away from the exact instants of arrivals
    counts = np.searchsorted(t, grid[clear], side="left")
    assert counts.tolist() == np.ceil(lam[clear]).astype(int).tolist()


def test_constant_spacing_starts_where_the_rate_does() -> None:
    profile = RateProfile([Hold(5.0, 0.0), Hold(2.0, 2.0)])
    assert offsets(ProfileArrivals(profile, "constant")).tolist() == [5.0, 5.5, 6.0, 6.5]


@pytest.mark.parametrize("spacing", ["poisson", "gamma", "constant"])
def test_no_arrivals_during_a_pause_and_none_after_the_end(spacing: str) -> None:
    t = offsets(ProfileArrivals(PROFILE, spacing))
    assert not np.any((t > 60.0) & (t < 90.0))
    assert t[-1] < PROFILE.duration_s
    # The schedule bounded by the profile's duration is the whole, finite, sequence.
    rng = np.random.default_rng(0)
    ns = list(schedule_ns(ProfileArrivals(PROFILE, spacing), rng, duration_s=720.0, max_count=None))
    assert len(ns) == len(t)


def test_same_seed_same_sequence_different_seed_differs() -> None:
    process = ProfileArrivals(PROFILE)
    assert offsets(process, 3).tolist() == offsets(process, 3).tolist()
    assert offsets(process, 3).tolist() != offsets(process, 4).tolist()


segments = st.one_of(
    st.builds(Hold, st.floats(0.01, 100.0), st.floats(0.0, 500.0)),
    st.builds(Ramp, st.floats(0.01, 100.0), st.floats(0.0, 500.0), st.floats(0.0, 500.0)),
    st.builds(
        lambda d, m, a, p, ph: Sine(d, m, m * a, p, ph),
        st.floats(0.01, 100.0),
        st.floats(0.0, 500.0),
        st.floats(0.0, 1.0),
        st.floats(0.01, 200.0),
        st.floats(0.0, 200.0),
    ),
)


@FIXED
@given(
    shape=st.lists(segments, min_size=1, max_size=6).filter(
        lambda segs: sum(float(s.integral(np.array([s.duration_s]))[0]) for s in segs) > 0.5
    ),
    spacing=st.sampled_from(["poisson", "gamma", "constant"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_profile_stays_inside_it_and_in_order(
    shape: list[Segment], spacing: str, seed: int
) -> None:
    profile = RateProfile(shape)
    burstiness = 0.5 if spacing == "gamma" else 1.0
    it = ProfileArrivals(profile, spacing, burstiness).offsets_s(np.random.default_rng(seed))
    t = np.fromiter(itertools.islice(it, 50_000), np.float64)
    assert np.all(np.isfinite(t))
    assert np.all(np.diff(t) >= 0)
    if len(t):
        assert t[0] >= 0.0 and t[-1] < profile.duration_s
    if spacing == "constant" and abs(profile.total - round(profile.total)) > 1e-6:
        assert len(t) == min(math.ceil(profile.total), 50_000)


# --- Validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Hold(0.0, 1.0), "duration"),
        (lambda: Hold(math.inf, 1.0), "duration"),
        (lambda: Hold(1.0, -1.0), "rate"),
        (lambda: Ramp(1.0, math.nan, 1.0), "ramp start"),
        (lambda: Sine(1.0, 5.0, 6.0, 10.0), "negative"),
        (lambda: Sine(1.0, 5.0, 1.0, 0.0), "period"),
        (lambda: step([]), "stage"),
        (lambda: spike(10.0, 1.0, 5.0, at_s=8.0, width_s=5.0), "does not fit"),
        (lambda: RateProfile([]), "at least one segment"),
        (lambda: RateProfile([Hold(10.0, 0.0)]), "above 0"),
        (lambda: ProfileArrivals(PROFILE, "uniform"), "poisson, gamma, constant"),
        (lambda: ProfileArrivals(PROFILE, "poisson", 0.5), "burstiness"),
        (lambda: ProfileArrivals(PROFILE, "gamma", 0.0), "burstiness"),
    ],
)
def test_bad_profiles_are_rejected(build: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()  # type: ignore[operator]
