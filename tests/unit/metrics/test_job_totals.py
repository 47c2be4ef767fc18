"""Async-job totals in the summary: polls per job and the job's phases, merged from shards."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.summary import summarize
from agentload.metrics.aggregate import RunAggregator
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.report.markdown import summary_markdown

MS = 1_000_000


def job(seq: int, polls: int, ok: bool, overhead_ms: float) -> RequestRecord:
    phases = {"queue_wait": 5.0 * seq, "execution": 100.0, "poll_overhead": overhead_ms}
    return RequestRecord(
        seq=seq,
        worker=0,
        action="request",
        intended_at=seq * MS,
        sent_at=seq * MS,
        done_at=seq * MS + 200 * MS,
        outcome=Outcome.OK if ok else Outcome.ERROR,
        error_kind=None if ok else ErrorKind.JOB_TIMEOUT,
        polls=polls,
        phases_ms=phases if ok else {},
    )


def rounded(value: object) -> object:
    """Merged means differ from one-pass ones in the last bits only."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 9) if isinstance(value, float) else value


JOBS = st.lists(
    st.tuples(st.integers(0, 12), st.booleans(), st.floats(0, 500)), min_size=1, max_size=40
).map(lambda rows: [job(i, p, ok, o) for i, (p, ok, o) in enumerate(rows)])


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(JOBS, st.integers(0, 40))
def test_shards_merge_to_the_whole_and_count_every_polled_job(
    records: list[RequestRecord], cut: int
) -> None:
    whole, first, second = RunAggregator(), RunAggregator(), RunAggregator()
    for i, r in enumerate(records):
        whole.add(r)
        (first if i < cut else second).add(r)
    first.merge(second)
    assert rounded(first.jobs.to_dict()) == rounded(whole.jobs.to_dict())
    polled = [r for r in records if r.polls]
    jobs = whole.jobs.to_dict()
    if not polled:
        assert jobs is None  # a run without polling has no jobs block
        return
    assert jobs is not None
    assert jobs["count"] == len(polled) and jobs["polls"] == sum(r.polls for r in polled)
    assert jobs["polls_per_job"] == {
        "mean": pytest.approx(sum(r.polls for r in polled) / len(polled)),
        "max": max(r.polls for r in polled),
    }
    succeeded = [r for r in polled if r.outcome is Outcome.OK]
    assert jobs["succeeded"] == len(succeeded)
    overhead = jobs["poll_overhead_ms"]
    assert isinstance(overhead, dict) and overhead["count"] == len(succeeded)
    if succeeded:  # the histogram's 3 significant digits
        assert overhead["max"] == pytest.approx(
            max(r.phases_ms["poll_overhead"] for r in succeeded), rel=1e-3, abs=1e-3
        )


def test_the_summary_reports_what_polling_cost() -> None:
    rng = np.random.default_rng(3)
    records = [job(i, int(rng.integers(1, 6)), True, float(rng.uniform(0, 80))) for i in range(200)]
    summary = summarize(records, target_rate_per_s=None).to_dict()
    jobs = summary["jobs"]
    overheads = np.array([r.phases_ms["poll_overhead"] for r in records])
    assert jobs["count"] == jobs["succeeded"] == 200
    assert jobs["polls_per_job"]["mean"] == pytest.approx(np.mean([r.polls for r in records]))
    assert jobs["poll_overhead_ms"]["p50"] == pytest.approx(np.median(overheads), rel=0.02)
    assert jobs["execution_ms"]["p50"] == pytest.approx(100.0, rel=1e-3)
    assert summarize([job(0, 0, True, 0.0)], target_rate_per_s=None).to_dict()["jobs"] is None
    # and the Markdown summary says it in one line
    text = summary_markdown(summary, title="jobs")
    assert f"Async jobs 200 (200 ok) · {jobs['polls_per_job']['mean']:.1f} polls/job" in text
    assert "poll overhead p50 " in text and "execution p50 100ms" in text
