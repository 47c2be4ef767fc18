"""What a run's telemetry adds to its summary: warnings, and a record of it in meta.json.

``with_telemetry`` is called once when the run ends (with the collectors' notes and the
scenario's generator limits) and again by ``report`` (with what meta.json kept), so a
re-rendered summary carries the same warnings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentload.analysis import validity
from agentload.analysis.generator_check import CPU_LIMIT_PERCENT, LOOP_LAG_LIMIT_MS
from agentload.analysis.summary import Summary
from agentload.config.telemetry import TelemetryConfig
from agentload.errors import RunDirError
from agentload.records.samples import read_samples


def run_meta(config: TelemetryConfig, notes: Iterable[str]) -> dict[str, Any]:
    """The ``telemetry`` entry of meta.json: notes and the generator limits in force."""
    generator = config.generator
    return {
        "interval_s": config.interval,
        "notes": list(notes),
        "cpu_limit_percent": generator.cpu_saturated_percent if generator else CPU_LIMIT_PERCENT,
        "loop_lag_limit_ms": generator.loop_lag_limit_ms if generator else LOOP_LAG_LIMIT_MS,
    }


def with_telemetry(summary: Summary, run_dir: Path, meta: Mapping[str, Any] | None) -> Summary:
    """The summary with the telemetry warnings appended; ``meta``: ``run_meta``'s dict (also
    given the generator verdict under ``generator``). None or a malformed one: defaults."""
    meta = meta if isinstance(meta, Mapping) else {}
    notes = [n for n in meta.get("notes", ()) if isinstance(n, str)]
    try:
        samples = read_samples(run_dir)
    except RunDirError as exc:
        samples, notes = [], [*notes, f"telemetry not read: {exc}"]
    lines, verdict = validity.telemetry_warnings(
        samples,
        notes,
        cpu_limit_percent=_number(meta.get("cpu_limit_percent"), CPU_LIMIT_PERCENT),
        loop_lag_limit_ms=_number(meta.get("loop_lag_limit_ms"), LOOP_LAG_LIMIT_MS),
    )
    if isinstance(meta, dict):
        meta["generator"] = verdict.to_dict() if verdict.samples else None
    fresh = tuple(line for line in lines if line not in summary.warnings)
    return dataclasses.replace(summary, warnings=summary.warnings + fresh) if fresh else summary


def _number(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )
