"""Threshold evaluation on synthetic records with known answers."""

from __future__ import annotations

import pytest

from agentload.analysis.summary import summarize
from agentload.analysis.validity import PERCENTILE_MIN_SAMPLES
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.slo.aggregate import SloAggregator
from agentload.slo.evaluate import Verdict, evaluate, min_samples
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000


def records() -> list[RequestRecord]:
    """100 ok (latency 1..100 ms; odd → action a, even → b; lag 1 ms), 3 http_5xx,
    2 http_429 (action a), 2 dropped (action b)."""
    out: list[RequestRecord] = []
    for i in range(1, 101):
        out.append(
            make_record(
                seq=i,
                action="a" if i % 2 else "b",
                intended_at=0,
                sent_at=1 * MS,
                first_token_at=1 * MS,
                done_at=i * MS,
                itl_ms=(1.0, 3.0),
            )
        )
    for kind, n in ((ErrorKind.HTTP_5XX, 3), (ErrorKind.HTTP_429, 2)):
        for _ in range(n):
            out.append(
                make_record(
                    action="a", outcome=Outcome.ERROR, error_kind=kind, sent_at=0, done_at=5 * MS
                )
            )
    for _ in range(2):
        out.append(
            make_record(
                action="b",
                outcome=Outcome.DROPPED,
                sent_at=None,
                first_byte_at=None,
                first_token_at=None,
                done_at=0,
            )
        )
    return out


def judge(text: str, duration_s: float | None = 10.0) -> Verdict:
    threshold = parse_threshold(text)
    aggregator = SloAggregator([threshold])
    for record in records():
        aggregator.add(record)
    return evaluate(threshold, aggregator, duration_s)


@pytest.mark.parametrize(
    ("text", "observed", "ok", "samples"),
    [
        ("avg(latency) < 51ms", 50.5, True, 100),
        ("min(latency) >= 1ms", 1.0, True, 100),
        ("max(latency) < 100ms", 100.0, False, 100),
        ("avg(latency{action=a}) < 50ms", 50.0, False, 50),
        ("avg(itl) <= 2ms", 2.0, True, 200),
        ("error_rate < 5%", 5 / 105, True, 105),
        ("error_rate{error_kind=http_429} < 1%", 2 / 105, False, 105),
        ("error_rate{action=b} <= 0%", 0.0, True, 50),
        ("dropped_rate < 1%", 2 / 107, False, 107),
        ("dropped_rate{action=b} < 5%", 2 / 52, True, 52),
        ("rate(ok) >= 10/s", 10.0, True, 107),
        ("rate(ok{action=a}) > 5/s", 5.0, False, 55),
        ("rate(requests) > 10/s", 10.7, True, 107),
        ("rate(error{error_kind=http_5xx}) < 1/s", 0.3, True, 107),
        ("count(error{error_kind=http_5xx}) <= 3", 3.0, True, 107),
        ("count(dropped) < 1", 2.0, False, 107),
        ("rate(ok{action=zzz}) > 1/s", 0.0, False, 0),
    ],
)
def test_exact_observed_values(text: str, observed: float, ok: bool, samples: int) -> None:
    verdict = judge(text)
    assert verdict.observed == pytest.approx(observed, rel=1e-12, abs=1e-15)
    assert verdict.ok is ok
    assert verdict.samples == samples
    assert not verdict.no_data


def test_percentiles_match_the_summary_and_carry_margins() -> None:
    verdict = judge("p99(latency) < 2s")
    summary = summarize(records(), target_rate_per_s=None)
    assert verdict.observed == summary.metrics["latency_ms"].p99
    assert verdict.observed == pytest.approx(99.0, rel=1e-3)  # HDR: 3 significant digits
    assert verdict.ok is True and verdict.unit == "ms" and verdict.limit == 2000.0
    assert verdict.observed is not None and verdict.margin is not None
    assert verdict.margin == pytest.approx(2000.0 - verdict.observed)
    assert verdict.margin_relative == pytest.approx(verdict.margin / 2000.0)
    assert not verdict.few_samples  # 100 samples is what p99 needs
    lag = judge("p99(schedule_lag) < 0.5ms")
    assert lag.observed == pytest.approx(1.0, rel=1e-3) and lag.ok is False
    assert lag.samples == 105  # every sent record, errors included
    assert lag.margin is not None and lag.margin < 0


def test_filtered_percentile_with_few_samples_is_flagged_not_skipped() -> None:
    verdict = judge("p99(latency{action=a}) < 3s")
    assert verdict.ok is True and verdict.samples == 50 and verdict.few_samples
    assert verdict.observed == pytest.approx(99.0, rel=1e-3)


def test_a_low_ratio_limit_with_few_requests_is_flagged() -> None:
    assert judge("error_rate < 0.1%").few_samples  # 105 sent < 1 / 0.001
    assert not judge("error_rate < 1%").few_samples


def test_no_data_and_not_available_are_neither_pass_nor_fail() -> None:
    empty = judge("p99(ttft{action=zzz}) < 1s")
    assert empty.ok is None and empty.no_data and empty.note == "no data"
    assert empty.observed is None and empty.margin is None
    no_duration = judge("rate(ok) > 1/s", duration_s=None)
    assert no_duration.ok is None and no_duration.no_data
    sessions = judge("session_success_rate > 99%")  # records without sessions
    assert sessions.ok is None and sessions.no_data and sessions.note == "no data"
    persona = judge("p99(latency{persona=x}) < 1s")  # no record of that persona
    assert persona.ok is None and persona.no_data and persona.note == "no data"


def test_min_samples_follows_the_validity_rule() -> None:
    for label, need in PERCENTILE_MIN_SAMPLES.items():
        assert min_samples(float(label[1:])) == need
    assert min_samples(50) == 2 and min_samples(100) == 1 and min_samples(0) == 1


def test_one_histogram_per_referenced_series_only() -> None:
    thresholds = [
        parse_threshold(t)
        for t in (
            "p99(latency) < 1s",
            "p50(latency) < 1s",
            "p99(ttft{action=a}) < 1s",
            "error_rate{action=a} < 1%",
            "error_rate{action=a,error_kind=http_429} < 1%",
        )
    ]
    aggregator = SloAggregator(thresholds)
    assert set(aggregator.series) == {(), (("action", "a"),)}
    assert list(aggregator.series[()].histograms) == ["latency"]
    assert list(aggregator.series[(("action", "a"),)].histograms) == ["ttft"]


def test_verdict_dict_has_the_documented_keys() -> None:
    keys = set(judge("p99(latency) < 2s").to_dict())
    assert {"expr", "ok", "observed", "limit", "margin", "no_data", "few_samples"} <= keys


def test_session_success_rate_counts_sessions_whose_every_turn_succeeded() -> None:
    from agentload.records.record import ErrorKind, Outcome
    from agentload.slo.aggregate import SloAggregator
    from agentload.slo.evaluate import evaluate
    from agentload.testing import make_record

    threshold = parse_threshold("session_success_rate > 70%")
    aggregator = SloAggregator([threshold])
    for session in range(4):
        for turn in range(2):
            lost = session == 0 and turn == 1
            aggregator.add(
                make_record(
                    seq=session * 2 + turn,
                    session_id=f"s{session}",
                    turn=turn,
                    outcome=Outcome.ERROR if lost else Outcome.OK,
                    error_kind=ErrorKind.CONTEXT_LOST if lost else None,
                )
            )
    verdict = evaluate(threshold, aggregator, duration_s=1.0)
    assert verdict.observed == 0.75 and verdict.samples == 4 and verdict.ok is True


def test_error_kind_timeout_counts_every_timeout_kind() -> None:
    texts = ("count(error{error_kind=timeout}) < 1", "error_rate{error_kind=timeout} < 50%")
    thresholds = [parse_threshold(t) for t in texts]
    aggregator = SloAggregator(thresholds)
    kinds = [ErrorKind.TOTAL_TIMEOUT] * 2 + [ErrorKind.FIRST_BYTE_TIMEOUT, ErrorKind.HTTP_5XX]
    for kind in kinds:
        aggregator.add(make_record(outcome=Outcome.ERROR, error_kind=kind, done_at=5 * MS))
    for _ in range(6):
        aggregator.add(make_record())
    count, ratio = (evaluate(t, aggregator, 1.0) for t in thresholds)
    assert count.observed == 3.0 and count.ok is False
    assert ratio.observed == pytest.approx(0.3) and ratio.ok is True
    with pytest.raises(ValueError, match="unknown error kind 'timeouts'"):
        parse_threshold("rate(error{error_kind=timeouts}) < 1/s")
