"""Rolling per-second window over the last N seconds, for the live display.

A ring of N one-second slots keyed by ``now_ns // 1e9`` on the run clock (0 = run start); a
slot is reused, and cleared, when its second comes round again. Memory is fixed (two
histograms and a few counters per slot) and ``add`` is O(1).

The window covers the current, partial second and the N - 1 before it, so its length is
``now - start of the oldest covered second`` (never before run start): between N - 1 and N
seconds once the run is N seconds old. A record is placed by when it was added (normally its
completion), so ``achieved_per_s`` is the rate at which sent requests completed over the
window: in steady state, the send rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import Outcome, RequestRecord

_NS_PER_S = 1_000_000_000
# Bound once: an enum member lookup (``Outcome.OK``) costs ~80 ns, and ``add`` runs per request.
_OK, _ERROR, _DROPPED = Outcome.OK, Outcome.ERROR, Outcome.DROPPED


class _Slot:
    __slots__ = ("dropped", "errors_by_kind", "latency", "ok", "second", "sent", "ttft")

    def __init__(self, second: int) -> None:
        self.second = second
        self.sent = 0
        self.ok = 0
        self.dropped = 0
        self.errors_by_kind: Counter[str] = Counter()
        self.latency = LatencyHistogram()
        self.ttft = LatencyHistogram()


@dataclass(frozen=True, slots=True)
class WindowSnapshot:
    """What the live display shows; latency figures cover ok records only (None if none)."""

    window_s: float
    sent: int
    ok: int
    dropped: int
    errors: int
    achieved_per_s: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    ttft_p50_ms: float | None
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class RollingWindow:
    def __init__(self, window_s: int = 10) -> None:
        if window_s < 1:
            raise ValueError("a rolling window needs at least one second")
        self.window_s = window_s
        self._slots: list[_Slot | None] = [None] * window_s

    def add(self, record: RequestRecord, now_ns: int | None = None) -> None:
        """Count a record at run-clock time ``now_ns`` (by default its completion, ``done_at``:
        a record sink needs no clock); one older than the window is ignored."""
        second = (record.done_at if now_ns is None else now_ns) // _NS_PER_S
        index = second % self.window_s
        slot = self._slots[index]
        if slot is None or slot.second < second:
            slot = self._slots[index] = _Slot(second)
        elif slot.second > second:
            return  # belongs to a second that has already left the window
        outcome = record.outcome
        if outcome == _DROPPED:
            slot.dropped += 1
            return
        slot.sent += 1
        if outcome == _OK:
            slot.ok += 1
            # latency_ms and ttft_ms, from integer ns (finite): straight into the buffers,
            # folded when full (a busy second can hold many) or when the window is read.
            if record.sent_at is not None:
                slot.latency.pending_ms.append((record.done_at - record.intended_at) / 1e6)
                slot.latency.fold_if_full()
            if (first_token_at := record.first_token_at) is not None:
                slot.ttft.pending_ms.append((first_token_at - record.intended_at) / 1e6)
                slot.ttft.fold_if_full()
        elif outcome == _ERROR:
            kind = str(record.error_kind) if record.error_kind else "unknown"
            slot.errors_by_kind[kind] += 1

    def snapshot(self, now_ns: int) -> WindowSnapshot:
        """The window ending at ``now_ns`` (cost: merging up to 2N histograms)."""
        current = now_ns // _NS_PER_S
        oldest = max(current - self.window_s + 1, 0)
        live = [s for s in self._slots if s is not None and oldest <= s.second <= current]
        latency = LatencyHistogram()
        ttft = LatencyHistogram()
        errors: Counter[str] = Counter()
        for slot in live:
            latency.merge(slot.latency)
            ttft.merge(slot.ttft)
            errors.update(slot.errors_by_kind)
        sent = sum(s.sent for s in live)
        window_s = now_ns / _NS_PER_S - oldest
        p50, p99 = latency.percentiles_ms((50, 99))
        return WindowSnapshot(
            window_s=window_s,
            sent=sent,
            ok=sum(s.ok for s in live),
            dropped=sum(s.dropped for s in live),
            errors=sum(errors.values()),
            achieved_per_s=sent / window_s if window_s > 0 else None,
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            ttft_p50_ms=ttft.percentile_ms(50),
            errors_by_kind=dict(errors.most_common()),
        )
