"""Telemetry plots: grouped by collector and unit, aligned on time, LTTB past the cap."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.records.samples import Sample, SampleWriter
from agentload.report.html_charts import MAX_POINTS
from agentload.report.html_telemetry import (
    MAX_SERIES,
    run_telemetry_charts,
    telemetry_charts,
    unit_of,
)


def test_units_come_from_the_last_word_of_the_name() -> None:
    assert unit_of("cpu_percent") == "percent"
    assert unit_of("gpu0.mem_used_bytes") == "bytes"
    assert unit_of("loop_lag_ms") == "ms"
    assert unit_of("tokens_per_s") == "per_s"
    assert unit_of("queue_length") == "queue_length"  # no unit word: a group of its own


def test_one_plot_per_collector_and_unit_with_aligned_gaps(tmp_path: Path) -> None:
    writer = SampleWriter(tmp_path / "telemetry.jsonl")
    for i in range(10):
        writer.add(
            Sample(i * 500_000_000, "host", {"cpu_percent": 10.0 + i, "mem_used_bytes": 1e9})
        )
        values = {"gpu0.util_percent": 50.0}
        if i % 2 == 0:
            values["gpu0.power_watts"] = 200.0 + i
        writer.add(Sample(i * 500_000_000 + 1, "gpu", values))
    writer.close()
    charts = {c["id"]: c for c in run_telemetry_charts(tmp_path)}
    assert set(charts) == {
        "telemetry-host-percent",
        "telemetry-host-bytes",
        "telemetry-gpu-percent",
        "telemetry-gpu-watts",
    }
    host = charts["telemetry-host-percent"]
    assert [s["label"] for s in host["series"]] == ["cpu_percent"]
    assert host["data"][0][:3] == [0.0, 0.5, 1.0] and host["data"][1][:2] == [10.0, 11.0]
    watts = charts["telemetry-gpu-watts"]
    assert len(watts["data"][0]) == 5  # instants where the series exists
    assert run_telemetry_charts(tmp_path / "nothing-here") == []


def test_many_series_split_into_several_plots() -> None:
    values = {f"s{i}_ms": float(i) for i in range(MAX_SERIES + 3)}
    charts = telemetry_charts([Sample(0, "prom", values), Sample(1_000_000_000, "prom", values)])
    assert [len(c["series"]) for c in charts] == [MAX_SERIES, 3]
    assert len({c["id"] for c in charts}) == 2


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4 * MAX_POINTS), seed=st.integers(0, 2**16))
def test_long_series_are_thinned_but_keep_ends_and_peaks(n: int, seed: int) -> None:
    samples = [
        Sample(i * 1_000_000_000, "host", {"cpu_percent": float((i * 7919 + seed) % 97)})
        for i in range(n)
    ]
    samples[n // 2] = Sample((n // 2) * 1_000_000_000, "host", {"cpu_percent": 1000.0})
    (chart,) = telemetry_charts(samples)
    xs, ys = chart["data"]
    assert len(xs) == min(n, MAX_POINTS)
    assert xs[0] == 0.0 and xs[-1] == n - 1
    assert 1000.0 in ys  # LTTB keeps the spike
    assert ("Downsampled" in chart["note"]) == (n > MAX_POINTS)
