"""A capacity answer decided by a p99 on a handful of samples says that it is optimistic."""

from __future__ import annotations

from agentload.analysis.capacity import Planned, SearchResult
from agentload.analysis.capacity_result import StepRecord, thin_percentiles
from agentload.report.capacity import headline
from agentload.report.html_capacity import parse_capacity
from tests.unit.analysis.test_capacity_stats import ERRORS, P99, judge, records


def step(index: int, value: float, latencies_ms: list[float]) -> StepRecord:
    stats = judge(records(latencies_ms, rate=100), P99, ERRORS, end_s=20.0)
    return StepRecord(index, Planned(value, "probe", 1), f"step-{index}", 0.0, 1.0, stats)


def search(capacity: float, first_fail: float) -> SearchResult:
    return SearchResult("found", capacity, capacity, first_fail, first_fail, ())


def test_a_deciding_p99_on_few_samples_is_flagged_and_one_on_enough_is_not() -> None:
    few = [step(1, 5.0, [100.0] * 40), step(2, 10.0, [900.0] * 40)]
    warnings = thin_percentiles(few, search(5.0, 10.0))
    assert len(warnings) == 2  # both deciding steps; the error-rate threshold is no percentile
    assert "p99(latency) < 500ms at 5 rests on 40 samples" in warnings[0]
    assert "at least 500" in warnings[0]
    enough = [step(1, 5.0, [100.0] * 600), step(2, 10.0, [900.0] * 600)]
    assert thin_percentiles(enough, search(5.0, 10.0)) == []


def test_only_the_steps_that_decide_the_answer_count() -> None:
    steps = [step(1, 2.0, [100.0] * 40), step(2, 5.0, [100.0] * 600), step(3, 10.0, [900.0] * 600)]
    assert thin_percentiles(steps, search(5.0, 10.0)) == []


def test_the_warning_reaches_the_terminal_lines_and_the_page() -> None:
    doc = {
        "name": "c",
        "unit": "requests/s",
        "status": "found",
        "capacity": 5.0,
        "lower": 5.0,
        "upper": 10.0,
        "confidence_level": 0.95,
        "settings": {"start": 1},
        "phases_s": {},
        "elapsed_s": 1.0,
        "budget_s": 10.0,
        "stop_reason": None,
        "steps": [],
        "warnings": ["p99(latency) < 500ms at 5 rests on 40 samples"],
    }
    assert any(line.startswith("warning: p99(latency)") for line in headline(doc))
    assert parse_capacity(doc).warnings == ("p99(latency) < 500ms at 5 rests on 40 samples",)
