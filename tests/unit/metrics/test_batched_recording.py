"""Deferred (batched) histogram recording gives the summary that per-value recording gave."""

import math
from typing import Any

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.summary import build_summary
from agentload.metrics import histogram as histogram_module
from agentload.metrics.aggregate import RunAggregator, output_tokens_per_s
from agentload.metrics.histogram import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    LatencyHistogram,
)
from agentload.records.record import ErrorKind, Outcome, RequestRecord

MS = 1_000_000


@st.composite
def records(draw: st.DrawFn) -> list[RequestRecord]:
    count = draw(st.integers(min_value=1, max_value=120))
    out = []
    for seq in range(count):
        intended = seq * draw(st.integers(0, 50)) * MS + draw(st.integers(0, 999_999))
        outcome = draw(st.sampled_from(list(Outcome)))
        fields: dict[str, Any] = {}
        done = intended + draw(st.integers(0, 5_000)) * MS // 7
        if outcome is not Outcome.DROPPED:
            sent = intended + draw(st.integers(0, 3_000_000))
            fields["sent_at"] = sent
            if draw(st.booleans()):
                fields["released_at"] = intended + draw(st.integers(0, sent - intended))
            if draw(st.booleans()):
                fields["first_byte_at"] = sent + draw(st.integers(0, 90 * MS))
            if draw(st.booleans()):
                fields["first_token_at"] = sent + draw(st.integers(0, 95 * MS))
                tokens = draw(st.integers(0, 40))
                fields["output_tokens"] = tokens
                fields["itl_ms"] = tuple(
                    draw(st.floats(0, 400, allow_nan=False)) for _ in range(max(tokens - 1, 0))
                )
            done = max(done, sent, fields.get("first_token_at", 0))
        if outcome is Outcome.ERROR:
            fields["error_kind"] = draw(st.sampled_from([None, ErrorKind.HTTP_5XX]))
        out.append(
            RequestRecord(
                seq=seq,
                worker=0,
                action=draw(st.sampled_from(["chat", "search"])),
                intended_at=intended,
                done_at=done,
                outcome=outcome,
                **fields,
            )
        )
    return out


def _summary(batch: list[RequestRecord]) -> dict[str, Any]:
    aggregator = RunAggregator()
    for record in batch:
        aggregator.add(record)
    return build_summary(aggregator, target_rate_per_s=10.0).to_dict()


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal, except means and standard deviations, which may differ in the last bits."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and path.rsplit(".", 1)[-1] in {"mean", "std"}:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


@settings(deadline=None, max_examples=60)
@given(records())
def test_summary_is_the_same_recorded_one_value_at_a_time_or_in_batches(
    batch: list[RequestRecord],
) -> None:
    batched = _summary(batch)
    original = histogram_module._FLUSH_AT
    histogram_module._FLUSH_AT = 1  # fold every value as it is recorded
    try:
        one_at_a_time = _summary(batch)
    finally:
        histogram_module._FLUSH_AT = original
    _assert_same(batched, one_at_a_time)


def _reference(values: list[float]) -> HdrHistogram:
    """What recording did before batching: hdrh's own per-value record_value."""
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        hdr.record_value(min(max(round(value * 1000), LOWEST_US), HIGHEST_US))
    return hdr


def _expected(batch: list[RequestRecord]) -> dict[str, list[float]]:
    """Each metric's values from the record's own derived properties (ok records only)."""
    out: dict[str, list[float]] = {"latency_ms": [], "ttft_ms": [], "itl_ms": [], "tpot_ms": []}
    out["schedule_lag_ms"] = [r.schedule_lag_ms for r in batch if r.schedule_lag_ms is not None]
    out["output_tokens_per_s_per_request"] = []
    for r in batch:
        if r.outcome is not Outcome.OK:
            continue
        for name in ("latency_ms", "ttft_ms", "tpot_ms"):
            if (value := getattr(r, name)) is not None:
                out[name].append(value)
        out["itl_ms"].extend(r.itl_ms)
        if (rate := output_tokens_per_s(r)) is not None:
            out["output_tokens_per_s_per_request"].append(rate)
    return out


@settings(deadline=None, max_examples=60)
@given(records())
def test_batched_figures_match_per_value_hdr_recording(batch: list[RequestRecord]) -> None:
    aggregator = RunAggregator()
    for record in batch:
        aggregator.add(record)
    for name, values in _expected(batch).items():
        ours = aggregator.histograms[name]
        assert ours.count == len(values), name
        if not values:
            continue
        hdr = _reference(values)
        ours._fold()
        assert np.array_equal(ours._counts, np.ctypeslib.as_array(hdr.counts)), name
        assert ours.min_ms == min(values) and ours.max_ms == max(values), name
        assert ours.mean_ms == pytest.approx(math.fsum(values) / len(values), rel=1e-9, abs=1e-9)
        # Percentiles are a function of these buckets and min/max alone.


def test_reads_see_values_still_buffered() -> None:
    histogram = LatencyHistogram()
    for value in (5.0, 1.0, 3.0):
        histogram.record_ms(value)
    assert histogram.count == 3
    assert histogram.percentiles_ms((0, 50, 100)) == pytest.approx([1.0, 3.0, 5.0], rel=1e-3)
    other = LatencyHistogram()
    other.record_ms(7.0)
    histogram.merge(other)
    assert (histogram.count, histogram.max_ms, histogram.mean_ms) == (4, 7.0, 4.0)
    decoded = LatencyHistogram.decode(histogram.encode(), histogram.stats)
    assert decoded.percentiles_ms((50, 100)) == pytest.approx([3.0, 7.0], rel=1e-3)
    with pytest.raises(ValueError, match="non-finite"):
        histogram.record_ms(math.nan)


def test_a_full_buffer_folds_without_a_read() -> None:
    histogram = LatencyHistogram()
    histogram.record_many_ms([2.0] * (histogram_module._FLUSH_AT + 1))
    assert len(histogram._pending) == 0
    assert int(histogram._counts.sum()) == histogram_module._FLUSH_AT + 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.0, max_value=3.6e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=5000,
    ),
    st.booleans(),
)
def test_the_mean_of_folded_batches_stays_within_a_few_ulps_of_the_exact_mean(
    values: list[float], negate_one: bool
) -> None:
    # Same-sign batches are summed by numpy, mixed-sign ones exactly: both close to fsum.
    if negate_one:
        values = [-values[0], *values[1:]]
    histogram = LatencyHistogram()
    histogram.pending_ms.extend(values)
    histogram.fold()
    exact = math.fsum(values) / len(values)
    assert histogram.mean_ms == pytest.approx(exact, rel=1e-12, abs=1e-9)
