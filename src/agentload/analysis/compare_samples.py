"""Per-request samples of one run directory, in time order, for comparisons and plots.

Summaries keep fixed-memory histograms; a comparison needs the samples themselves (to
resample them). Memory stays bounded by ``Thinned``: past its cap it keeps every other value
and doubles its stride, so a long run keeps an evenly spread, time-ordered subsample
(at most ``cap`` values, never fewer than ``cap / 2``). Thinning only widens confidence
intervals (fewer samples), so a comparison stays honest when it happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import ValidationError

from agentload.analysis.goodput import is_good, objectives
from agentload.analysis.summary import Summary, build_summary
from agentload.config.thresholds import SloSection
from agentload.errors import RunDirError
from agentload.metrics.aggregate import RunAggregator
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import SCENARIO_FILE, RecordReadStats, RunDir
from agentload.slo.grammar import Threshold

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SAMPLE_CAP: Final = 100_000
BIN_NS: Final = 10_000_000  # sends and ok completions are counted in 10-ms bins (for rates)
OUTSIDE_SERVER: Final = "outside_server"  # latency not covered by the server's own phases
CLIENT_PHASE_PREFIXES: Final = ("client.", "step.")
CLIENT_PHASES: Final = frozenset({"session_create", "queue_wait", "execution", "poll_overhead"})


class Thinned:
    """An append-only list of rows that keeps at most ``cap`` of them, evenly spread."""

    __slots__ = ("_cap", "_seen", "_stride", "rows")

    def __init__(self, cap: int = SAMPLE_CAP) -> None:
        if cap < 2:
            raise ValueError("cap must be at least 2")
        self._cap = cap
        self._stride = 1
        self._seen = 0
        self.rows: list[Any] = []

    @property
    def stride(self) -> int:
        """How many offered rows one kept row stands for."""
        return self._stride

    def add(self, row: Any) -> None:
        # Row i is kept when i is a multiple of the stride; halving keeps the multiples of
        # twice the stride, so the kept rows stay exactly evenly spaced.
        seen = self._seen
        self._seen += 1
        if seen % self._stride:
            return
        self.rows.append(row)
        if len(self.rows) >= self._cap:
            del self.rows[1::2]
            self._stride *= 2


@dataclass
class PhaseSamples:
    """Ok requests in time order: latency and each server phase (NaN where not reported)."""

    latency_ms: FloatArray
    phases_ms: dict[str, FloatArray] = field(default_factory=dict)


@dataclass
class RunSamples:
    path: Path
    meta: dict[str, Any]
    summary: Summary
    latency: PhaseSamples
    ttft_ms: FloatArray
    itl_ms: FloatArray  # every gap of every ok request (thinned), in time order
    itl_unit: IntArray  # which request each gap came from: the resampling unit
    per_action_ms: dict[str, FloatArray]
    read_stats: RecordReadStats
    sent_bins: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ok_bins: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Goodput: the run's per-request objectives (from its scenario.yaml), the requests that
    # met them all, and their completions per bin.
    objectives: tuple[str, ...] = ()
    good: int = 0
    good_bins: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def is_client_phase(name: str) -> bool:
    """A phase the client measured (``client.*``, ``step.*``, a session's creation, a job's
    queue wait, execution and polling): it overlaps the server's phases or lies outside them."""
    return name.startswith(CLIENT_PHASE_PREFIXES) or name in CLIENT_PHASES


def _outside_server_ms(record: RequestRecord, latency_ms: float) -> float | None:
    phases = record.phases_ms
    served = phases.get("total")
    if served is None:
        server = [v for k, v in phases.items() if k != "total" and not is_client_phase(k)]
        if not server:  # client-side phases alone say nothing of the server
            return None
        served = sum(server)
    return latency_ms - served


def load_run_samples(path: Path, *, cap: int = SAMPLE_CAP) -> RunSamples:
    """One pass over ``path``'s records: its summary and time-ordered ok samples."""
    run_dir = RunDir.open(path)
    meta = run_dir.read_meta()
    goals = run_objectives(path)
    good = 0
    good_bins: dict[int, int] = {}
    stats = RecordReadStats()
    aggregator = RunAggregator()
    rows = Thinned(cap)  # (intended_at, latency, ttft, action, phases)
    gaps = Thinned(cap)  # (intended_at, request number, gap)
    sent_bins: dict[int, int] = {}
    ok_bins: dict[int, int] = {}
    for number, record in enumerate(run_dir.iter_records(stats)):
        aggregator.add(record)
        if record.sent_at is not None:
            key = record.sent_at // BIN_NS
            sent_bins[key] = sent_bins.get(key, 0) + 1
        if record.outcome == Outcome.OK:
            key = record.done_at // BIN_NS
            ok_bins[key] = ok_bins.get(key, 0) + 1
            if goals and is_good(record, goals):
                good += 1
                good_bins[key] = good_bins.get(key, 0) + 1
        if record.outcome != Outcome.OK or (latency := record.latency_ms) is None:
            continue
        phases: dict[str, float] = {k: v for k, v in record.phases_ms.items() if k != "total"}
        outside = _outside_server_ms(record, latency)
        if outside is not None:
            phases[OUTSIDE_SERVER] = outside
        rows.add((record.intended_at, latency, record.ttft_ms, record.action, phases))
        for gap in record.itl_ms:
            gaps.add((record.intended_at, number, gap))
    rate = meta.get("target_rate_per_s")
    window = meta.get("load_window_s")
    summary = build_summary(
        aggregator,
        target_rate_per_s=float(rate) if isinstance(rate, int | float) else None,
        load_window_s=float(window) if isinstance(window, int | float) else None,
    )
    # Records are written as requests complete; resampling blocks follow the schedule.
    ordered = sorted(rows.rows, key=lambda row: row[0])
    latency_ms = np.array([row[1] for row in ordered], dtype=np.float64)
    names = sorted({name for row in ordered for name in row[4]})
    phases_ms = {
        name: np.array([row[4].get(name, np.nan) for row in ordered], dtype=np.float64)
        for name in names
    }
    ttft = np.array([row[2] for row in ordered if row[2] is not None], dtype=np.float64)
    per_action: dict[str, list[float]] = {}
    for row in ordered:
        per_action.setdefault(row[3], []).append(row[1])
    gap_rows = sorted(gaps.rows, key=lambda row: (row[0], row[1]))
    return RunSamples(
        path=path,
        meta=meta,
        summary=summary,
        latency=PhaseSamples(latency_ms=latency_ms, phases_ms=phases_ms),
        ttft_ms=ttft,
        itl_ms=np.array([row[2] for row in gap_rows], dtype=np.float64),
        itl_unit=_dense_units(np.array([row[1] for row in gap_rows], dtype=np.int64)),
        per_action_ms={k: np.array(v, dtype=np.float64) for k, v in per_action.items()},
        read_stats=stats,
        sent_bins=_dense_bins(sent_bins),
        ok_bins=_dense_bins(ok_bins),
        objectives=tuple(str(goal) for goal in goals),
        good=good,
        good_bins=_dense_bins(good_bins),
    )


def run_objectives(path: Path) -> list[Threshold]:
    """The per-request objectives of the run's own thresholds (``analysis.goodput``); none
    without a scenario.yaml."""
    try:
        data = yaml.safe_load((path / SCENARIO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise RunDirError(f"{path}: cannot read {SCENARIO_FILE}: {reason[:300]}") from None
    try:
        section = SloSection.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        reason = " ".join(str(exc).split())
        raise RunDirError(f"{path}: thresholds in {SCENARIO_FILE} are invalid: {reason}") from None
    return objectives(spec.parsed() for spec in section.all())


def _dense_bins(counts: dict[int, int]) -> IntArray:
    """Counts per bin from the first occupied bin to the last, empty bins included."""
    if not counts:
        return np.zeros(0, dtype=np.int64)
    first = min(counts)
    out = np.zeros(max(counts) - first + 1, dtype=np.int64)
    for key, count in counts.items():
        out[key - first] = count
    return out


def _dense_units(owners: IntArray) -> IntArray:
    """Renumber owners 0..k-1 in order of first appearance (owners arrive grouped)."""
    if owners.size == 0:
        return owners
    starts = np.concatenate(([True], owners[1:] != owners[:-1]))
    dense: IntArray = np.cumsum(starts) - 1
    return dense
