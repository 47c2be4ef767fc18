"""Async-job results: polls per job and where a job's time went, in fixed memory.

A job is a record with at least one poll (the agent-task protocol; an A2A ``get``). Polls per
job cover every such record, failed and timed-out jobs included, since polling costs the
same whatever the answer; the phases cover jobs that succeeded, like the latency metrics:

- ``queue_wait_ms``: submitted to started, by the server's clock;
- ``execution_ms``: started to finished, by the server's clock;
- ``poll_overhead_ms``: the client's time to result minus the job's server-side life, the
  price of polling instead of being told (tune ``request.poll`` to trade it for polls).
"""

from __future__ import annotations

from typing import Final

from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import Outcome, RequestRecord

JOB_PHASES: Final = ("queue_wait", "execution", "poll_overhead")


class JobAggregator:
    """Feeds on records with ``polls > 0``; others are ignored."""

    __slots__ = ("jobs", "max_polls", "ok", "phases", "polls")

    def __init__(self) -> None:
        self.jobs = 0
        self.ok = 0
        self.polls = 0
        self.max_polls = 0
        self.phases = {name: LatencyHistogram() for name in JOB_PHASES}

    def add(self, record: RequestRecord) -> None:
        if record.polls <= 0:
            return
        self.jobs += 1
        self.polls += record.polls
        self.max_polls = max(self.max_polls, record.polls)
        if record.outcome is not Outcome.OK:
            return
        self.ok += 1
        for name, histogram in self.phases.items():
            value_ms = record.phases_ms.get(name)
            if value_ms is not None:
                histogram.record_ms(max(0.0, value_ms))

    def merge(self, other: JobAggregator) -> None:
        self.jobs += other.jobs
        self.ok += other.ok
        self.polls += other.polls
        self.max_polls = max(self.max_polls, other.max_polls)
        for name, histogram in other.phases.items():
            self.phases[name].merge(histogram)

    def to_dict(self) -> dict[str, object] | None:
        """The ``jobs`` block of summary.json, or None when nothing was polled."""
        if not self.jobs:
            return None
        out: dict[str, object] = {
            "count": self.jobs,
            "succeeded": self.ok,
            "polls": self.polls,
            "polls_per_job": {"mean": self.polls / self.jobs, "max": self.max_polls},
        }
        for name, histogram in self.phases.items():
            p50, p90, p99 = histogram.percentiles_ms((50, 90, 99))
            out[f"{name}_ms"] = {
                "count": histogram.count,
                "mean": histogram.mean_ms,
                "p50": p50,
                "p90": p90,
                "p99": p99,
                "max": histogram.max_ms,
            }
        return out
