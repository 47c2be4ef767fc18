import dataclasses
from functools import cache
from typing import Any

import pytest

from agentload.analysis import validity
from agentload.analysis.summary import MetricStats, Summary, summarize
from agentload.records.record import Outcome, RequestRecord

MS = 1_000_000


@cache
def healthy() -> Summary:
    """1000 ok requests at exactly 100/s, 1 ms schedule lag, 50 ms service: no warnings."""
    records = (
        RequestRecord(
            seq=i,
            worker=0,
            action="chat",
            intended_at=i * 10 * MS,
            sent_at=i * 10 * MS + MS,
            done_at=i * 10 * MS + 51 * MS,
            outcome=Outcome.OK,
            output_tokens=5,
        )
        for i in range(1000)
    )
    return summarize(records, target_rate_per_s=None)


def with_metric(summary: Summary, name: str, **fields: Any) -> Summary:
    metrics = dict(summary.metrics)
    metrics[name] = dataclasses.replace(metrics[name], **fields)
    return dataclasses.replace(summary, metrics=metrics)


def test_healthy_run_has_no_warnings() -> None:
    assert healthy().warnings == ()
    assert healthy().achieved_per_s == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("count", "weak"),
    [
        (1000, None),
        (999, "p99.9"),
        (100, "p99.9"),
        (99, "p99, p99.9"),
        (20, "p99, p99.9"),
        (19, "p95, p99, p99.9"),
        (9, "p90, p95, p99, p99.9"),
        (0, None),
    ],
)
def test_percentile_support(count: int, weak: str | None) -> None:
    summary = with_metric(healthy(), "latency_ms", count=count)
    warnings = [w for w in validity.check(summary) if w.startswith("latency ")]
    if weak is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warnings[0].startswith(f"latency {weak} rest")
        assert f"on {count} sample" in warnings[0]


@pytest.mark.parametrize(
    ("lag_ms", "service_p50_ms", "warned"),
    [
        (10.0, 50.0, False),
        (10.5, 50.0, True),
        (10.5, None, True),
        (49.0, 1000.0, False),
        (51.0, 1000.0, True),
    ],
)
def test_schedule_lag_rule(lag_ms: float, service_p50_ms: float | None, warned: bool) -> None:
    summary = with_metric(healthy(), "schedule_lag_ms", p99=lag_ms)
    summary = with_metric(summary, "service_ms", p50=service_p50_ms)
    warnings = [w for w in validity.check(summary) if w.startswith("generator fell behind")]
    assert len(warnings) == int(warned)
    assert validity.schedule_lag_threshold_ms(service_p50_ms) == max(
        10.0, 0.05 * (service_p50_ms or 0)
    )


@pytest.mark.parametrize(
    ("late_p99_ms", "count", "schedule_lag_p99_ms", "warned"),
    [
        (3.0, 1000, 3.0, False),  # at the 3-ms precision: quiet
        (3.2, 1000, 3.5, True),
        (3.2, 99, 3.5, False),  # a p99 of 99 samples is not a p99
        (12.0, 1000, 12.0, False),  # rule 3 says it already: "generator fell behind"
    ],
)
def test_timestamp_precision_rule(
    late_p99_ms: float, count: int, schedule_lag_p99_ms: float, warned: bool
) -> None:
    summary = with_metric(healthy(), "scheduler_lag_ms", p99=late_p99_ms, count=count)
    summary = with_metric(summary, "schedule_lag_ms", p99=schedule_lag_p99_ms)
    warnings = validity.check(summary)
    precision = [w for w in warnings if w.startswith(validity.TIMESTAMP_WARNING_PREFIX)]
    assert len(precision) == int(warned), warnings
    if warned:
        assert precision[0].startswith(f"timestamps late by up to {late_p99_ms:.1f}ms at p99")
        assert validity.untrusted_reasons(summary) == ()  # a note on precision, not a verdict


def test_open_run_whose_timers_fired_late_warns_about_timestamps() -> None:
    """From records: 1,000 open-loop sends, 2% of them released 5 ms after their time."""
    records = (
        RequestRecord(
            seq=i,
            worker=0,
            action="chat",
            intended_at=i * 10 * MS,
            released_at=i * 10 * MS + (5 * MS if i % 50 == 0 else 100_000),
            sent_at=i * 10 * MS + (5 * MS if i % 50 == 0 else 100_000) + 50_000,
            done_at=i * 10 * MS + 51 * MS,
            outcome=Outcome.OK,
        )
        for i in range(1000)
    )
    warnings = summarize(records, target_rate_per_s=None).warnings
    assert any(w.startswith("timestamps late by up to 5.0ms at p99") for w in warnings), warnings


@pytest.mark.parametrize(("offered", "warned"), [(100.0, False), (105.2, False), (105.3, True)])
def test_rate_shortfall_rule(offered: float, warned: bool) -> None:
    summary = dataclasses.replace(healthy(), offered_per_s=offered)
    warnings = validity.check(summary)
    assert [w for w in warnings if "below the offered" in w] == (
        [
            f"achieved rate 100/s is {(1 - 100 / offered) * 100:.1f}% below the offered "
            f"{offered:.0f}/s"
        ]
        if warned
        else []
    )


def test_a_target_missed_by_chance_is_not_a_shortfall() -> None:
    # A Poisson schedule's own rate varies around the target; only sends that fall behind
    # the schedule are a shortfall.
    summary = dataclasses.replace(healthy(), target_per_s=110.0)
    assert not [w for w in validity.check(summary) if "below" in w]


def test_each_count_rule_alone() -> None:
    base = healthy()
    assert validity.check(dataclasses.replace(base, dropped=3)) == (
        "3 requests dropped at the in-flight cap",
    )
    assert validity.check(dataclasses.replace(base, dropped=1)) == (
        "1 request dropped at the in-flight cap",
    )
    assert validity.check(dataclasses.replace(base, cancelled=2)) == (
        "2 requests cancelled in flight when the run stopped",
    )
    approx = dataclasses.replace(base.tokens, approximate=True)
    assert validity.check(dataclasses.replace(base, tokens=approx)) == (
        "token counts approximate: estimated by the client, not reported by the server",
    )


def test_no_success_rule() -> None:
    empty = MetricStats(count=0)
    summary = dataclasses.replace(
        healthy(), ok=0, error=1000, metrics=dict.fromkeys(healthy().metrics, empty)
    )
    assert validity.check(summary) == ("no request succeeded: latency figures are empty",)
    assert summarize([], target_rate_per_s=10.0).warnings == ()


def test_warnings_end_to_end_from_records() -> None:
    records = [
        RequestRecord(
            seq=i,
            worker=0,
            action="chat",
            intended_at=i * 100 * MS,
            sent_at=i * 100 * MS + 30 * MS,
            done_at=i * 100 * MS + 80 * MS,
            outcome=Outcome.OK,
            output_tokens=4,
            tokens_approx=True,
        )
        for i in range(50)
    ]
    records.append(
        RequestRecord(
            seq=50,
            worker=0,
            action="chat",
            intended_at=5000 * MS,
            done_at=5000 * MS,
            outcome=Outcome.DROPPED,
        )
    )
    summary = summarize(records, target_rate_per_s=20.0)
    text = "\n".join(summary.warnings)
    assert "latency p99, p99.9 rest on 50 samples" in text
    assert "generator fell behind: p99 schedule lag 30.0ms > 10.0ms" in text
    assert "1 request dropped at the in-flight cap" in text
    assert "below" not in text  # one drop in 51 leaves the achieved rate within 5%
    assert "token counts approximate" in text
    assert len(summary.warnings) == 4


def test_client_limit_errors_are_blamed_on_the_generator() -> None:
    summary = dataclasses.replace(healthy(), error=3, errors_by_kind={"client_limit": 3})
    assert any("ran out of sockets or file descriptors" in w for w in validity.check(summary))
