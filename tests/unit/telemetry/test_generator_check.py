"""The generator verdict: saturated from the first of two saturated samples in a row."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.generator_check import generator_verdict
from agentload.analysis.validity import telemetry_warnings
from agentload.records.samples import Sample

S = 1_000_000_000


def gen(t_s: float, cpu: float, lag: float = 1.0) -> Sample:
    values = {"generator.cpu_percent": cpu, "generator.loop_lag_ms": lag}
    return Sample(at_ns=int(t_s * S), collector="generator", values=values)


def test_two_busy_samples_in_a_row_saturate_from_the_first() -> None:
    samples = [gen(0, 20), gen(1, 95), gen(2, 40), gen(3, 93), gen(4, 99), gen(5, 97)]
    verdict = generator_verdict(reversed(samples))  # order in the file does not matter
    assert verdict.saturated and verdict.saturated_from_s == 3.0
    assert verdict.saturated_samples == 4 and verdict.peak_cpu_percent == 99
    assert (
        verdict.warning is not None and "t=3.0s" in verdict.warning and "CPU 93%" in verdict.warning
    )


def test_loop_lag_alone_saturates_and_other_collectors_are_ignored() -> None:
    other = Sample(at_ns=0, collector="host", values={"generator.cpu_percent": 100.0})
    verdict = generator_verdict([other, gen(1, 10, lag=80), gen(2, 10, lag=120)])
    assert verdict.saturated_from_s == 1.0 and verdict.samples == 2
    assert verdict.reason == "event-loop lag 80 ms"


def test_single_spikes_and_no_samples_are_not_saturation() -> None:
    assert not generator_verdict([gen(0, 99), gen(1, 10), gen(2, 99)]).saturated
    empty = generator_verdict([])
    assert empty.samples == 0 and not empty.saturated and empty.warning is None


def test_warnings_put_the_verdict_before_collector_notes() -> None:
    lines, verdict = telemetry_warnings(
        [gen(0, 95), gen(1, 95)], ["gpu telemetry off: x"], cpu_limit_percent=90
    )
    assert verdict.saturated and lines[1] == "gpu telemetry off: x"
    assert lines[0].startswith("generator saturated from t=0.0s")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 200), max_size=30), st.floats(1, 100))
def test_verdict_matches_a_plain_scan(cpus: list[float], limit: float) -> None:
    samples = [gen(i, cpu) for i, cpu in enumerate(cpus)]
    verdict = generator_verdict(samples, cpu_limit_percent=limit, loop_lag_limit_ms=1e9)
    busy = [cpu >= limit for cpu in cpus]
    first = next((i for i in range(len(busy) - 1) if busy[i] and busy[i + 1]), None)
    assert verdict.saturated_from_s == (None if first is None else float(first))
    assert verdict.saturated_samples == sum(busy)
