"""Why a latency percentile changed: which server phases (``Server-Timing``) moved.

Definition. For percentile p, the requests *near* p in a run are those whose latency rank
lies in the band ``[p - w, p + w]`` (clipped to 0..100) with ``w = clamp(100 - p, 1, 2.5)``
percentage points: ranks 98..100 (the top 2%) for p99, 87.5..92.5 for p90, 47.5..52.5 for
p50. For each phase, ``base_ms`` and ``new_ms`` are its mean over the band's requests in
each run, and ``share`` is its change divided by the change of the band's mean latency (so
the shares of all phases, ``outside_server`` included, add up to 1). ``outside_server`` is
the latency the server's phases do not cover: schedule lag, network, and any wait before
the server started timing (an admission lock, a proxy queue).

Phases the client measured (``client.*`` from connection tracing, ``step.*`` from a
session's step events, a session's creation, an async job's queue wait, execution and
polling; ``compare_samples.is_client_phase``) overlap the server's phases or lie inside
``outside_server``. Counting them beside those would count the same time twice, so they are
listed after the attributed phases as ``detail`` (their ``share`` is still their change over
the band's change, and is not part of the sum).

Example: "p99 latency -62%, of which queue 90% of the change (-70% of its own time)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from agentload.analysis.compare_samples import PhaseSamples, is_client_phase

MIN_BAND: Final = 3  # fewer requests near the percentile: no attribution


@dataclass(frozen=True, slots=True)
class PhaseChange:
    phase: str
    base_ms: float
    new_ms: float
    share: float | None  # of the change in the band's mean latency; None if that is ~0
    detail: bool = False  # client-measured: overlaps the attributed phases, not in the sum

    @property
    def delta_ms(self) -> float:
        return self.new_ms - self.base_ms

    @property
    def relative(self) -> float | None:
        return self.delta_ms / self.base_ms if self.base_ms > 0 else None


def band_mask(latency_ms: np.ndarray, p: float) -> np.ndarray:
    width = min(max(100 - p, 1.0), 2.5)
    low, high = max(p - width, 0.0), min(p + width, 100.0)
    n = len(latency_ms)
    ranks = np.empty(n, dtype=np.float64)
    ranks[np.argsort(latency_ms, kind="stable")] = (np.arange(n) + 1) / n * 100
    mask: np.ndarray = (ranks >= low) & (ranks <= high)
    return mask


def attribute(base: PhaseSamples, new: PhaseSamples, p: float) -> tuple[PhaseChange, ...]:
    """Phase changes near percentile ``p``: the attributed (server) phases and
    ``outside_server`` by largest absolute change, then the client-measured ``detail`` phases
    likewise; () without phases."""
    phases = sorted(set(base.phases_ms) & set(new.phases_ms))
    if not phases or len(base.latency_ms) == 0 or len(new.latency_ms) == 0:
        return ()
    base_mask = band_mask(base.latency_ms, p)
    new_mask = band_mask(new.latency_ms, p)
    if base_mask.sum() < MIN_BAND or new_mask.sum() < MIN_BAND:
        return ()
    total_delta = float(new.latency_ms[new_mask].mean() - base.latency_ms[base_mask].mean())
    out = []
    for phase in phases:
        b = base.phases_ms[phase][base_mask]
        n = new.phases_ms[phase][new_mask]
        if np.isnan(b).all() or np.isnan(n).all():
            continue
        base_ms, new_ms = float(np.nanmean(b)), float(np.nanmean(n))
        near_zero = math.isclose(total_delta, 0.0, abs_tol=1e-9)
        share = None if near_zero else (new_ms - base_ms) / total_delta
        out.append(PhaseChange(phase, base_ms, new_ms, share, detail=is_client_phase(phase)))
    out.sort(key=lambda c: (c.detail, -abs(c.delta_ms)))
    return tuple(out)
