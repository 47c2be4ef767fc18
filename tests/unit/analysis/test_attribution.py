"""Latency components, windows, and correlation with lead/lag (pure, property-tested)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.attribution import (
    MAX_WINDOWS,
    NETWORK_OR_CLIENT,
    SCHEDULE_LAG,
    SERVER_OTHER,
    SERVICE,
    PhaseWindows,
    causes_of,
    components_ms,
    load_steps,
)
from agentload.analysis.attribution_series import best_shift, correlations, resample
from agentload.records.record import Outcome, RequestRecord
from agentload.records.samples import Sample

MS = 1_000_000
S = 1_000_000_000


def record(
    at_ms: float,
    *,
    lag_ms: float = 1.0,
    service_ms: float = 100.0,
    phases: dict[str, float] | None = None,
    outcome: Outcome = Outcome.OK,
    seq: int = 0,
) -> RequestRecord:
    intended = int(at_ms * MS)
    sent = intended + int(lag_ms * MS)
    return RequestRecord(
        seq=seq,
        worker=0,
        action="chat",
        intended_at=intended,
        sent_at=sent,
        done_at=sent + int(service_ms * MS),
        outcome=outcome,
        phases_ms=phases or {},
    )


def test_components_split_a_request_into_server_phases_lag_and_the_rest() -> None:
    phases = {"queue": 30.0, "decode": 50.0, "tool": 0.0, "total": 90.0, "execution": 90.0}
    parts = components_ms(record(0, lag_ms=5, service_ms=100, phases=phases))
    assert parts == {
        "queue": 30.0,
        "decode": 50.0,
        "tool": 0.0,
        SERVER_OTHER: 10.0,  # total minus the named phases
        SCHEDULE_LAG: 5.0,
        NETWORK_OR_CLIENT: 10.0,  # service minus the server's total
    }  # "execution" overlaps the server's phases and is left out
    assert causes_of(parts)["inference_queue"] == 30.0
    assert causes_of(parts)["load_generator"] == 5.0


def test_a_session_created_before_the_turn_is_carved_out_of_the_time_outside() -> None:
    phases = {"store_read": 10.0, "total": 60.0, "session_create": 25.0}
    parts = components_ms(record(0, lag_ms=0, service_ms=100, phases=phases))
    assert parts is not None
    assert parts["session_create"] == 25.0 and parts[NETWORK_OR_CLIENT] == 15.0
    assert causes_of(parts)["context_store"] == 35.0


def test_without_phases_only_lag_and_service_are_known_and_failures_are_skipped() -> None:
    assert components_ms(record(0, lag_ms=2, service_ms=40)) == {SCHEDULE_LAG: 2.0, SERVICE: 40.0}
    assert components_ms(record(0, outcome=Outcome.ERROR)) is None
    client_only = record(0, lag_ms=2, service_ms=40, phases={"client.connect": 1.0})
    assert components_ms(client_only) == {SCHEDULE_LAG: 2.0, SERVICE: 40.0}


phase_values = st.floats(0, 500, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    lag=st.floats(0, 200),
    network=st.floats(0, 200),
    named=st.dictionaries(st.sampled_from(["queue", "prefill", "decode", "tool"]), phase_values),
    other=st.floats(0, 100),
    session=st.floats(0, 50),
)
def test_components_add_up_to_the_latency(
    lag: float, network: float, named: dict[str, float], other: float, session: float
) -> None:
    total = sum(named.values()) + other
    phases = {**named, "total": total, "session_create": session}
    service = total + session + network
    rec = record(0, lag_ms=lag, service_ms=service, phases=phases)
    parts = components_ms(rec)
    assert parts is not None and rec.latency_ms is not None
    assert math.isclose(sum(parts.values()), rec.latency_ms, rel_tol=1e-9, abs_tol=1e-5)
    assert all(v >= 0 for v in parts.values())


def test_windows_hold_per_second_shares_of_each_component() -> None:
    windows = PhaseWindows()
    for i in range(10):  # second 0: queue-bound; second 1: decode-bound
        windows.add(record(i * 50, service_ms=100, lag_ms=0, phases={"queue": 80, "total": 100}))
        windows.add(
            record(1000 + i * 50, service_ms=100, lag_ms=0, phases={"decode": 90, "total": 100})
        )
    series = windows.series()
    assert series.start_s == (0.0, 1.0) and series.count == (10, 10)
    assert series.shares["queue"] == (0.8, 0.0)
    assert series.shares["decode"] == (0.0, 0.9)
    assert math.isclose(windows.shares()["queue"], 0.4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3 * MAX_WINDOWS), min_size=1, max_size=300), st.integers(5, 200))
def test_a_long_run_is_merged_into_wider_windows_without_losing_anything(
    seconds: list[int], max_windows: int
) -> None:
    windows = PhaseWindows()
    for n, second in enumerate(seconds):
        windows.add(record(second * 1000.0, phases={"queue": 40, "total": 60}, seq=n))
    series = windows.series(max_windows)
    assert len(series.start_s) <= max_windows
    assert sum(series.count) == len(seconds) == windows.count
    latency, parts = windows.totals()
    assert math.isclose(sum(parts.values()), latency, rel_tol=1e-9)


def test_memory_stays_bounded_by_widening_the_windows() -> None:
    windows = PhaseWindows()
    for second in range(3 * MAX_WINDOWS):  # a 1.7-hour run, one request a second
        windows.add(record(second * 1000.0, phases={"queue": 40, "total": 60}, seq=second))
    assert windows.window_ns == 4 * S  # doubled at 2,049 and at 4,098 windows of 1 s
    series = windows.series(max_windows=10_000)
    assert len(series.start_s) <= MAX_WINDOWS and sum(series.count) == 3 * MAX_WINDOWS
    assert series.window_s == 4.0


def test_the_tail_band_shows_what_the_slowest_requests_wait_for() -> None:
    windows = PhaseWindows()
    for i in range(200):
        slow = i % 20 == 0  # 5%: a 900 ms tool call
        phases = {"tool": 900.0, "decode": 100.0} if slow else {"decode": 100.0}
        total = sum(phases.values())
        windows.add(record(i * 10, lag_ms=0, service_ms=total, phases={**phases, "total": total}))
    assert windows.shares()["tool"] < 0.4
    assert windows.tail_shares()["tool"] > 0.5  # ranks 92.5..97.5 hold the slow ones


def test_resample_averages_samples_per_window() -> None:
    times = [0, S // 2, S, 3 * S + 1]
    out = resample(times, [1.0, 3.0, 10.0, 7.0], 0.0, 1.0, 4)
    assert out[0] == 2.0 and out[1] == 10.0 and math.isnan(out[2]) and out[3] == 7.0


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(-3, 3))
def test_best_shift_finds_how_far_a_series_leads(seed: int, lead: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=60))
    y = np.roll(x, lead) * 3 + 100  # latency follows x by ``lead`` windows
    y[: max(lead, 0)] = np.nan
    if lead < 0:
        y[lead:] = np.nan
    found = best_shift(x, y)
    assert found is not None and found == (found[0], lead) and found[0] > 0.99


def test_correlations_name_the_series_that_rises_with_latency() -> None:
    windows = PhaseWindows()
    latency_by_second = [100, 100, 200, 400, 800, 800, 400, 200, 100, 100]
    for second, latency in enumerate(latency_by_second):
        windows.add(record(second * 1000.0, lag_ms=0, service_ms=latency))
    samples = [
        Sample(second * S + S // 2, "server", {"server.queue_length": latency / 100, "x": 1.0})
        for second, latency in enumerate(latency_by_second)
    ]
    found = correlations(samples, windows.series())
    assert [c.series for c in found] == ["server.queue_length"]  # a constant says nothing
    assert found[0].r > 0.99 and found[0].lead_s == 0.0


def stepped_run() -> PhaseWindows:
    """10/s for 5 s with a short queue, then 40/s for 5 s with a long one."""
    windows = PhaseWindows()
    at_ms, seq = 0.0, 0
    for rate, queue in ((10, 5.0), (40, 95.0)):
        for _ in range(5 * rate):
            phases = {"queue": queue, "decode": 95.0, "total": queue + 95.0}
            windows.add(record(at_ms, lag_ms=0, service_ms=queue + 95.0, phases=phases, seq=seq))
            at_ms += 1000 / rate
            seq += 1
    return windows


def test_load_steps_group_windows_by_offered_rate() -> None:
    steps = load_steps(stepped_run().series())
    assert [(s.due_per_s, s.windows) for s in steps] == [(10.0, 5), (40.0, 5)]
    assert math.isclose(steps[0].shares["queue"], 0.05) and steps[1].shares["queue"] > 0.45


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 10, 50, 400]))
def test_the_chance_spread_of_one_poisson_rate_is_one_load_level(seed: int, rate: int) -> None:
    rng = np.random.default_rng(seed)
    windows = PhaseWindows()
    for n, at_s in enumerate(np.cumsum(rng.exponential(1 / rate, size=20 * rate))):
        windows.add(record(at_s * 1000, phases={"decode": 50, "total": 50}, seq=n))
    assert load_steps(windows.series()) == []
