"""One line on async jobs (the summary's ``jobs`` block): what polling cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentload.units import format_duration_ms


def jobs_line(jobs: Mapping[str, Any] | None) -> str | None:
    """E.g. "jobs 27 (27 ok) · 3.1 polls/job (max 5) · poll overhead p50 120ms, p90 410ms ·
    queue wait p50 2.0ms · execution p50 1.41s"; None when nothing was polled."""
    if not jobs:
        return None
    per_job = jobs["polls_per_job"]
    parts = [
        f"jobs {jobs['count']:,} ({jobs['succeeded']:,} ok)",
        f"{per_job['mean']:.1f} polls/job (max {per_job['max']:,})",
    ]
    overhead = jobs.get("poll_overhead_ms") or {}
    if overhead.get("count"):
        parts.append(
            f"poll overhead p50 {format_duration_ms(overhead['p50'])},"
            f" p90 {format_duration_ms(overhead['p90'])}"
        )
    for key, label in (("queue_wait_ms", "queue wait"), ("execution_ms", "execution")):
        stats = jobs.get(key) or {}
        if stats.get("count"):
            parts.append(f"{label} p50 {format_duration_ms(stats['p50'])}")
    return " · ".join(parts)
