"""A capacity step judged from its records: the window, the confidence, saturation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.capacity_stats import StepStats, step_stats
from agentload.analysis.capacity_tails import binom_cdf, binom_sf, poisson_cdf, poisson_sf
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000
S = 1_000_000_000
P99 = parse_threshold("p99(latency) < 500ms")
ERRORS = parse_threshold("error_rate < 1%")


def records(latencies_ms: list[float], *, start_s: float = 1.0, rate: float = 100.0):
    out = []
    for i, latency in enumerate(latencies_ms):
        at = int((start_s + i / rate) * S)
        out.append(make_record(seq=i, intended_at=at, sent_at=at, done_at=at + int(latency * MS)))
    return out


def judge(recs: list[RequestRecord], *thresholds, start_s=1.0, end_s=3.0) -> StepStats:
    return step_stats(
        recs, list(thresholds or (P99,)), start_ns=int(start_s * S), end_ns=int(end_s * S)
    )


def test_fast_answers_pass_with_confidence_and_warmup_is_excluded() -> None:
    warmup = records([5000.0] * 50, start_s=0.0)  # slow, but due before the window
    stats = judge(warmup + records([100.0] * 150), P99, ERRORS)
    assert stats.requests == 150 and stats.ok == 150
    assert stats.p99_ms == pytest.approx(100.0)
    assert stats.verdict(0.95) == "pass" and stats.confidence(0.95) == pytest.approx(1.0)
    assert stats.saturation is None


def test_a_tenth_over_the_limit_fails_and_one_in_a_hundred_is_uncertain() -> None:
    rng = np.random.default_rng(1)
    slow = [100.0] * 180 + [900.0] * 20
    rng.shuffle(slow)
    failing = judge(records(slow, rate=100))
    assert failing.verdict(0.95) == "fail"
    assert failing.first_failing() is not None
    assert failing.first_failing().expr == "p99(latency) < 500ms"  # type: ignore[union-attr]
    border = [100.0] * 198 + [900.0] * 2  # the p99 sits right at the boundary
    stats = judge(records(border, rate=100))
    assert stats.verdict(0.95) == "uncertain"
    assert 0.05 < stats.confidence(0.95) < 0.95


def test_saturation_by_errors_drops_and_falling_behind() -> None:
    half_errors = [
        make_record(
            seq=i,
            intended_at=S + i * 10 * MS,
            sent_at=S + i * 10 * MS,
            done_at=S + i * 10 * MS + 50 * MS,
            outcome=Outcome.ERROR if i % 2 else Outcome.OK,
            error_kind=ErrorKind.HTTP_5XX if i % 2 else None,
        )
        for i in range(100)
    ]
    assert "failed" in (judge(half_errors, ERRORS).saturation or "")
    dropped = records([100.0] * 100) + [
        make_record(seq=1000 + i, intended_at=2 * S, done_at=2 * S, outcome=Outcome.DROPPED)
        for i in range(5)
    ]
    assert "dropped" in (judge(dropped).saturation or "")
    # Offered 100/s, but each answer takes longer than the last: the backlog grows.
    behind = records([100.0 + 15 * i for i in range(200)])
    stats = judge(behind)
    assert stats.completed_per_s < 0.9 * stats.offered_per_s
    assert "offered rate" in (stats.saturation or "") and stats.verdict(0.95) == "fail"


def test_cut_off_requests_count_with_the_latency_they_reached() -> None:
    recs = records([100.0] * 150)
    at = int(2.9 * S)
    recs += [
        make_record(
            seq=500 + i,
            intended_at=at,
            sent_at=at,
            done_at=at + 2 * S,
            outcome=Outcome.CANCELLED,
            error_kind=ErrorKind.CANCELLED,
        )
        for i in range(10)
    ]
    stats = judge(recs, P99)
    assert stats.checks[0].observed is not None and stats.checks[0].observed >= 2000
    assert stats.verdict(0.95) == "fail"


def test_rate_and_count_thresholds() -> None:
    recs = records([100.0] * 200)  # 100/s over a 2 s window
    rate_ok = judge(recs, parse_threshold("rate(ok) >= 80/s"))
    assert rate_ok.checks[0].observed == pytest.approx(100.0)
    assert rate_ok.checks[0].confidence_pass > 0.95
    rate_bad = judge(recs, parse_threshold("rate(ok) >= 130/s"))
    assert rate_bad.verdict(0.95) == "fail"
    count = judge(recs, parse_threshold("count(error) < 1"))
    assert count.checks[0].confidence_pass == 1.0


def test_pooled_runs_double_the_window() -> None:
    one = judge(records([100.0] * 200))
    two = step_stats(records([100.0] * 200) * 2, [P99], start_ns=S, end_ns=3 * S, runs=2)
    assert two.window_s == 2 * one.window_s
    assert two.offered_per_s == pytest.approx(one.offered_per_s)


def test_tails_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for k, n, p in [(5, 10, 0.5), (98, 100, 0.99), (0, 1000, 0.001), (30, 50, 0.7)]:
        assert binom_cdf(k, n, p) == pytest.approx(stats.binom.cdf(k, n, p), abs=1e-9)
        assert binom_sf(k, n, p) == pytest.approx(stats.binom.sf(k, n, p), abs=1e-9)
    for k, mean in [(5, 3.0), (100, 120.0), (0, 0.5), (2000, 1900.0)]:
        assert poisson_cdf(k, mean) == pytest.approx(stats.poisson.cdf(k, mean), abs=1e-9)
        assert poisson_sf(k, mean) == pytest.approx(stats.poisson.sf(k, mean), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    latencies=st.lists(st.floats(1, 5000), min_size=1, max_size=300),
    limit_ms=st.floats(10, 4000),
    percentile=st.sampled_from([50, 90, 95, 99, 99.9]),
)
def test_confidences_are_probabilities_that_agree_with_the_point_estimate(
    latencies: list[float], limit_ms: float, percentile: float
) -> None:
    threshold = parse_threshold(f"p{percentile}(latency) < {limit_ms}ms")
    stats = judge(records(latencies, rate=200), threshold, end_s=10.0)
    check = stats.checks[0]
    assert 0 <= check.confidence_pass <= 1 and 0 <= check.confidence_fail <= 1
    assert check.confidence_pass + check.confidence_fail <= 1 + 1e-9
    assert check.observed is not None
    verdict = check.verdict(0.95)
    if verdict == "pass":
        assert check.observed < limit_ms
    if verdict == "fail":
        assert check.observed >= limit_ms
