"""Where the latency of a run went: each ok request split into components, folded into time
windows in fixed memory.

Components of one ok request (they add up to its latency from the intended start exactly):

- each server phase the target reported (``Server-Timing`` / the ``done`` event) among
  ``SERVER_PHASES``;
- ``server_other``: the server's ``total`` minus those phases (planning, serialisation);
- ``schedule_lag``: sent minus intended start (the generator was late);
- ``network_or_client``: the rest of what ``compare_samples`` calls ``outside_server``
  (latency minus the server's total, or the sum of its phases without one, minus the
  schedule lag): network, proxies, and the client reading the answer late.

Phases a client measures outside the server's ``total`` (``OUTSIDE_PHASES``: a session
created before the first turn, an async job's wait for a worker and its polling) are carved
out of that rest; ``poll_overhead`` is its own cause, ``polling``. A target that reports no
server phases gives ``schedule_lag`` and ``service`` (time from the send) only. Other phase
names (an async job's ``execution``, the client's ``client.connect``) overlap these and are
left out.

``PhaseWindows`` is a record sink: per window of intended start (1 s, doubled whenever the
run outgrows ``MAX_WINDOWS``) it keeps sums per component, and it keeps a thinned sample of
requests for the tail; memory does not grow with the run's length.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from agentload.analysis.compare_attribution import band_mask
from agentload.analysis.compare_samples import Thinned
from agentload.records.record import Outcome, RequestRecord

NS_PER_S: Final = 1_000_000_000
MAX_WINDOWS: Final = 2048
ROW_CAP: Final = 10_000  # ~6 MB of rows at most
TAIL_PERCENTILE: Final = 95.0  # the tail band: requests ranked near p95 (92.5..97.5)
TAIL_MIN_BAND: Final = 5  # fewer requests in the band (under ~100 ok): no tail shares
SCHEDULE_LAG: Final = "schedule_lag"
NETWORK_OR_CLIENT: Final = "network_or_client"
SERVER_OTHER: Final = "server_other"
SERVICE: Final = "service"  # no phases reported: the whole time from the send
_OK: Final = Outcome.OK  # bound once: an enum member lookup costs ~80 ns per request
CAUSE_OF_PHASE: Final = {
    "queue": "inference_queue",
    "prefill": "inference_compute",
    "decode": "inference_compute",
    "store_read": "context_store",
    "store_write": "context_store",
    "tool": "tool_calls",
    SCHEDULE_LAG: "load_generator",
    NETWORK_OR_CLIENT: "network_or_client",
    SERVER_OTHER: "server_other",
    SERVICE: "unattributed",
    "session_create": "context_store",  # creating a session writes it to the store
    "queue_wait": "inference_queue",
    # Polling is the client's chosen way to wait for a job, not a network or generator
    # delay: its own cause, which a strained generator never absorbs.
    "poll_overhead": "polling",
}
# Phases a client measures outside the server's ``total`` (a session created before the
# first turn; an async job's wait for a worker and the polling after it finished).
OUTSIDE_PHASES: Final = frozenset({"session_create", "queue_wait", "poll_overhead"})
SERVER_PHASES: Final = frozenset(
    {"queue", "prefill", "decode", "store_read", "store_write", "tool"}
)


def components_ms(record: RequestRecord) -> dict[str, float] | None:
    """The latency components of an ok request (see the module docstring); None otherwise."""
    latency = record.latency_ms
    lag = record.schedule_lag_ms
    if record.outcome != Outcome.OK or latency is None or lag is None:
        return None
    phases = record.phases_ms
    out = {k: v for k, v in phases.items() if k in SERVER_PHASES}
    served = phases.get("total")
    if served is None:
        if not out:  # no server phases (client.* phases alone say nothing of the server)
            return {SCHEDULE_LAG: lag, SERVICE: latency - lag}
        served = sum(out.values())
    # What compare_samples calls outside_server, computed from the server's phases only.
    outside = latency - served
    out[SERVER_OTHER] = max(0.0, served - sum(out.values()))
    out[SCHEDULE_LAG] = lag
    rest = outside - lag
    for name in OUTSIDE_PHASES & phases.keys():
        out[name] = min(max(0.0, rest), phases[name])
        rest -= out[name]
    out[NETWORK_OR_CLIENT] = max(0.0, rest)
    return out


def causes_of(components: dict[str, float]) -> dict[str, float]:
    out: defaultdict[str, float] = defaultdict(float)
    for name, value in components.items():
        out[CAUSE_OF_PHASE[name]] += value
    return dict(out)


@dataclass
class _Window:
    due: int = 0  # requests that came due in the window, whatever their outcome
    count: int = 0
    latency_ms: float = 0.0
    components_ms: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def merge(self, other: _Window) -> None:
        self.due += other.due
        self.count += other.count
        self.latency_ms += other.latency_ms
        for name, value in other.components_ms.items():
            self.components_ms[name] += value


@dataclass(frozen=True, slots=True)
class WindowSeries:
    """Per window: its start (s), ok requests, mean latency, and each component's share."""

    window_s: float
    start_s: tuple[float, ...]
    due: tuple[int, ...]
    count: tuple[int, ...]
    latency_mean_ms: tuple[float | None, ...]
    shares: dict[str, tuple[float | None, ...]]  # component -> share of latency per window


class PhaseWindows:
    """Record sink (``add``) folding ok requests into windows by intended start."""

    def __init__(self, window_s: float = 1.0, *, row_cap: int = ROW_CAP) -> None:
        self.window_ns = max(1, int(window_s * NS_PER_S))
        self._windows: dict[int, _Window] = {}
        # (latency_ms, components) for the tail band; (latency_ms, schedule lag ms) for a
        # request without server phases, whose components follow from the two (tail_shares).
        self.rows = Thinned(row_cap)
        self.with_phases = 0  # ok requests whose target reported phases
        self.count = 0

    def add(self, record: RequestRecord) -> None:
        index = max(0, record.intended_at) // self.window_ns
        window = self._windows.get(index)
        if window is None:
            window = self._windows[index] = _Window()
            if len(self._windows) > MAX_WINDOWS:
                self._coarsen()
                window = self._windows.setdefault(index // 2, _Window())
        window.due += 1
        sent_at = record.sent_at
        if sent_at is None or record.outcome != _OK:
            return  # components_ms would say None
        if not record.phases_ms:
            # The common case, once per ok request: components_ms's two parts, without
            # building a dict per request (same values, same order).
            plain_ms = (record.done_at - record.intended_at) / 1e6
            lag_ms = (sent_at - record.intended_at) / 1e6
            self.count += 1
            window.count += 1
            window.latency_ms += plain_ms
            parts_ms = window.components_ms
            parts_ms[SCHEDULE_LAG] += lag_ms
            parts_ms[SERVICE] += plain_ms - lag_ms
            self.rows.add((plain_ms, lag_ms))
            return
        parts = components_ms(record)
        if parts is None:
            return
        latency = record.latency_ms
        assert latency is not None  # components_ms returned parts
        self.count += 1
        if SERVICE not in parts:
            self.with_phases += 1
        window.count += 1
        window.latency_ms += latency
        for name, value in parts.items():
            window.components_ms[name] += value
        self.rows.add((latency, parts))

    def _coarsen(self) -> None:
        merged: dict[int, _Window] = {}
        for index, window in self._windows.items():
            merged.setdefault(index // 2, _Window()).merge(window)
        self._windows = merged
        self.window_ns *= 2

    def series(self, max_windows: int = 120) -> WindowSeries:
        """The windows from the first to the last (empty ones as gaps), merged evenly so that
        there are at most ``max_windows`` of them (for a plot or summary.json)."""
        if not self._windows:
            return WindowSeries(self.window_ns / NS_PER_S, (), (), (), (), {})
        first, last = min(self._windows), max(self._windows)
        factor = max(1, -(-(last - first + 1) // max_windows))
        grouped: dict[int, _Window] = {}
        for index, window in self._windows.items():
            grouped.setdefault((index - first) // factor, _Window()).merge(window)
        slots = range(max(grouped) + 1)
        width_ns = self.window_ns * factor
        names = sorted({n for w in grouped.values() for n in w.components_ms})
        rows = [grouped.get(i) for i in slots]
        return WindowSeries(
            window_s=width_ns / NS_PER_S,
            start_s=tuple((first * self.window_ns + i * width_ns) / NS_PER_S for i in slots),
            due=tuple(w.due if w else 0 for w in rows),
            count=tuple(w.count if w else 0 for w in rows),
            latency_mean_ms=tuple(w.latency_ms / w.count if w and w.count else None for w in rows),
            shares={
                n: tuple(
                    _share(w.components_ms.get(n, 0.0), w.latency_ms) if w else None for w in rows
                )
                for n in names
            },
        )

    def totals(self) -> tuple[float, dict[str, float]]:
        """Sum of latency and of each component over every ok request."""
        latency = sum(w.latency_ms for w in self._windows.values())
        parts: defaultdict[str, float] = defaultdict(float)
        for window in self._windows.values():
            for name, value in window.components_ms.items():
                parts[name] += value
        return latency, dict(parts)

    def shares(self) -> dict[str, float]:
        """Each component's share of the run's total latency (mean over requests)."""
        latency, parts = self.totals()
        return {n: v / latency for n, v in parts.items()} if latency > 0 else {}

    def tail_shares(self, percentile: float = TAIL_PERCENTILE) -> dict[str, float]:
        """Component shares among the requests ranked near ``percentile`` (the same band as
        ``compare_attribution``); empty with fewer than ``TAIL_MIN_BAND`` in the band, where
        one or two requests would decide the verdict."""
        rows = self.rows.rows
        if not rows:
            return {}
        latency = np.array([r[0] for r in rows], dtype=np.float64)
        mask = band_mask(latency, percentile)
        band = [rows[i] for i in np.flatnonzero(mask)]
        if len(band) < TAIL_MIN_BAND:
            return {}
        total = float(sum(r[0] for r in band))
        if total <= 0:
            return {}
        parts: defaultdict[str, float] = defaultdict(float)
        for latency_ms, row_parts in band:
            if isinstance(row_parts, float):  # no server phases: row_parts is the lag
                parts[SCHEDULE_LAG] += row_parts
                parts[SERVICE] += latency_ms - row_parts
                continue
            for name, value in row_parts.items():
                parts[name] += value
        return {n: v / total for n, v in parts.items()}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True, slots=True)
class LoadStep:
    """Windows at one level of offered load (requests due per second)."""

    due_per_s: float  # mean over the step's windows
    windows: int
    shares: dict[str, float]  # component -> share of the step's latency


def load_steps(series: WindowSeries, *, min_windows: int = 2) -> list[LoadStep]:
    """Per load level, lowest first. Windows are sorted by their offered load (requests due)
    and split where the next is both 25% and three Poisson deviations (3·sqrt(n)) above the
    previous: a step profile's 10/s, 20/s and 40/s become three levels, while the chance
    spread of one rate stays one. Levels of fewer than ``min_windows`` windows are left out;
    fewer than two levels: no steps (a constant-load run has one)."""
    used = [
        i
        for i, due in enumerate(series.due)
        if due and series.count[i] and series.latency_mean_ms[i] is not None
    ]
    used.sort(key=lambda i: series.due[i])
    groups: list[list[int]] = []
    for i in used:
        due = series.due[i]
        previous = series.due[groups[-1][-1]] if groups else None
        if previous is None or (due > 1.25 * previous and due - previous > 3 * previous**0.5):
            groups.append([])
        groups[-1].append(i)
    steps = []
    for members in groups:
        if len(members) < min_windows:
            continue
        weights = [series.count[i] * (series.latency_mean_ms[i] or 0.0) for i in members]
        total = sum(weights)
        shares = {
            name: sum(w * (values[i] or 0.0) for w, i in zip(weights, members, strict=True)) / total
            for name, values in series.shares.items()
            if total > 0
        }
        due_per_s = sum(series.due[i] for i in members) / (len(members) * series.window_s)
        steps.append(LoadStep(due_per_s, len(members), shares))
    return steps if len(steps) >= 2 else []
