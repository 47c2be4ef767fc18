"""Run-level thresholds: the generator's telemetry and the trust flag, judged at the run's end."""

from __future__ import annotations

import pytest

from agentload.analysis.generator_check import CPU_SERIES, LAG_SERIES
from agentload.analysis.summary import summarize
from agentload.config import parse_scenario
from agentload.config.thresholds import ThresholdSpec
from agentload.errors import ConfigError
from agentload.records.record import RequestRecord
from agentload.records.samples import Sample
from agentload.slo.aggregate import SloAggregator
from agentload.slo.evaluate import Verdict, evaluate
from agentload.slo.gate import Rule, SloGate
from agentload.slo.grammar import parse_threshold
from agentload.slo.run_level import AT_RUN_END, NO_TELEMETRY, RunFacts
from agentload.slo.tracking import RunSlo
from agentload.testing import make_record

MS = 1_000_000
S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "kind", "limit", "canonical"),
    [
        ("trustworthy == true", "flag", 1.0, "trustworthy == true"),
        ("trustworthy==false", "flag", 0.0, "trustworthy == false"),
        ("max(generator_cpu) < 90%", "cpu", 90.0, "max(generator_cpu) < 90%"),
        ("p95(generator_cpu) <= 150%", "cpu", 150.0, "p95(generator_cpu) <= 150%"),
        ("p99(generator_loop_lag) < 0.05s", "loop_lag", 50.0, "p99(generator_loop_lag) < 50ms"),
    ],
)
def test_run_level_expressions_parse(text: str, kind: str, limit: float, canonical: str) -> None:
    threshold = parse_threshold(text)
    assert threshold.kind == kind and threshold.run_level and threshold.limit == limit
    assert threshold.text == canonical and parse_threshold(canonical) == threshold


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("trustworthy < 1", 13, "compared with == true"),
        ("trustworthy == yes", 16, "expected true or false"),
        ("trustworthy{action=a} == true", 12, "takes no filters"),
        ("trustworthy == true and", 21, "unexpected text"),
        ("max(generator_cpu) < 90", 22, "percentage of one core"),
        ("max(generator_cpu) < 0.9s", 22, "percentage of one core"),
        ("p99(generator_loop_lag) < 5", 27, "needs a unit"),
        ("p99(generator_loop_lag{action=a}) < 5ms", 23, "takes no filters"),
        ("rate(generator_cpu) > 1/s", 6, "expected one of requests"),
        ("p99(latency) == 1s", 14, "expected a comparison"),
    ],
)
def test_run_level_errors_name_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(ValueError, match=f"column {column}: .*{words}"):
        parse_threshold(text)


def judge(text: str, facts: RunFacts | None) -> Verdict:
    threshold = parse_threshold(text)
    return evaluate(threshold, SloAggregator([threshold]), 10.0, run=facts)


def generator_samples(cpu: list[float], lag: list[float]) -> list[Sample]:
    return [
        Sample(at_ns=i * S, collector="generator", values={CPU_SERIES: c, LAG_SERIES: g})
        for i, (c, g) in enumerate(zip(cpu, lag, strict=True))
    ] + [Sample(at_ns=0, collector="host", values={CPU_SERIES: 999.0})]  # another collector


def test_generator_thresholds_aggregate_the_samples_exactly() -> None:
    facts = RunFacts.from_samples(
        generator_samples([float(c) for c in range(10, 101, 10)], [1.0] * 9 + [80.0])
    )
    assert facts.generator_cpu == tuple(float(c) for c in range(10, 101, 10))  # host ignored
    cpu = judge("max(generator_cpu) < 90%", facts)
    assert cpu.ok is False and cpu.observed == 100.0 and cpu.samples == 10
    assert cpu.unit == "percent" and cpu.margin == -10.0
    assert judge("p50(generator_cpu) < 90%", facts).observed == 50.0
    assert judge("avg(generator_cpu) < 90%", facts).observed == pytest.approx(55.0)
    lag = judge("p90(generator_loop_lag) < 50ms", facts)
    assert lag.ok is True and lag.observed == 1.0 and lag.unit == "ms" and lag.margin == 49.0
    assert judge("max(generator_loop_lag) < 50ms", facts).ok is False
    assert judge("p99(generator_loop_lag) < 50ms", facts).few_samples  # 10 < 100 samples


def test_run_level_thresholds_have_no_data_before_the_end_or_without_telemetry() -> None:
    before = judge("max(generator_cpu) < 90%", None)
    assert before.ok is None and before.no_data and before.note == AT_RUN_END
    assert judge("trustworthy == true", None).note == AT_RUN_END
    off = judge("max(generator_cpu) < 90%", RunFacts())
    assert off.ok is None and off.note == NO_TELEMETRY


def test_trustworthy_fails_with_the_reasons_and_has_no_margin() -> None:
    lost = judge("trustworthy == true", RunFacts(untrustworthy_because=("lag", "cpu")))
    assert lost.ok is False and lost.observed == 0.0 and lost.note == "lag; cpu"
    assert lost.margin is None and lost.margin_relative is None and lost.unit == "bool"
    kept = judge("trustworthy == true", RunFacts())
    assert kept.ok is True and kept.observed == 1.0 and kept.note is None
    assert judge("trustworthy == false", RunFacts(untrustworthy_because=("x",))).ok is True


def test_run_level_rules_never_abort_a_run() -> None:
    gate = SloGate([Rule(parse_threshold("trustworthy == true"), abort_on_fail=True)])
    gate.add(make_record(intended_at=0, sent_at=500 * MS, done_at=600 * MS))
    assert gate.check_abort(100.0) is None


def lagging(lag_ms: int, n: int = 100) -> list[RequestRecord]:
    return [
        make_record(seq=i, intended_at=i * MS, sent_at=(i + lag_ms) * MS, done_at=(i + 200) * MS)
        for i in range(n)
    ]


def complete(
    texts: list[str], records: list[RequestRecord], samples: list[Sample], **limits: float
) -> tuple[dict[str, object], list[Verdict]]:
    slo = RunSlo([ThresholdSpec(expr=t) for t in texts])
    for record in records:
        slo.add(record)
    summary = slo.complete(
        summarize(records, target_rate_per_s=None), samples=samples, generator_limits=limits
    )
    return summary.to_dict(), list(summary.thresholds)


def test_the_summary_flag_and_the_gate_follow_schedule_lag_and_generator_saturation() -> None:
    texts = ["p99(latency) < 1s", "trustworthy == true", "max(generator_cpu) < 90%"]
    calm = generator_samples([20.0, 30.0, 25.0], [1.0, 2.0, 1.0])
    data, verdicts = complete(texts, lagging(1), calm)
    assert data["trustworthy"] is True and data["trust_reasons"] == []
    assert [v.ok for v in verdicts] == [True, True, True]
    # Service p50 ~200 ms: the lag limit is max(10 ms, 5% of it) = 10 ms.
    data, verdicts = complete(texts, lagging(40), calm)
    assert data["trustworthy"] is False
    assert data["trust_reasons"] == ["generator fell behind: p99 schedule lag 40.0ms > 10.0ms"]
    assert [v.expr for v in verdicts] == texts and [v.ok for v in verdicts] == [True, False, True]
    busy = generator_samples([20.0, 95.0, 97.0, 30.0], [1.0, 1.0, 1.0, 1.0])
    data, verdicts = complete(texts, lagging(1), busy)
    assert data["trust_reasons"] == ["generator saturated from t=1.0s (CPU 95% of a core)"]
    assert [v.ok for v in verdicts] == [True, False, False]
    # The run's own limits (meta.json's telemetry entry) decide saturation.
    data, _ = complete(texts, lagging(1), busy, cpu_limit_percent=99.0)
    assert data["trustworthy"] is True


def test_abort_on_fail_on_a_run_level_threshold_is_a_config_error() -> None:
    text = """\
target: {base_url: "http://127.0.0.1:8000"}
load: {rate: 10/s, duration: 5s}
request: {prompt_tokens: 10}
thresholds:
  - p99(latency) < 2s
  - expr: trustworthy == true
    abort_on_fail: true
"""
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, source="s.yaml")
    (problem,) = [p.render() for p in info.value.problems]
    assert problem.startswith("s.yaml:6: thresholds[1]: ")
    assert "judged when the run ends" in problem and "drop abort_on_fail" in problem
