"""The capacity search's fast first estimate, read from one adaptive run (pure).

An adaptive run (``engine.adaptive``) doubles its users while the latency is under 80% of
the target, cuts them by a quarter when it breaks, holds in between, and after that moves in
small steps: from its first decrease or hold on it stays around the largest number of users
that holds the target. So:

- users: the median of the limits the controller set from its first decrease or hold on
  (the equilibrium it settled on). A run that only ever increased ran out of time while the
  latency was still well under the target: its last limit is a lower estimate, and the
  search probes upward from it.
- rate (open load): the completed (ok) rate over the same settled part of the run, the
  throughput the target allows. An open load at that rate queues more than the closed users
  did (arrivals do not wait for answers), so it is an upper estimate, and the search probes
  downward from it when it fails.

Either way the estimate only places the search's first bracket; the normal, judged steps
decide the capacity and its bounds.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

NS_PER_S = 1_000_000_000
MIN_SETTLED_S = 0.5  # a settled part shorter than this gives no rate

Basis = Literal["settled", "still_rising"]


@dataclass(frozen=True, slots=True)
class FirstEstimate:
    users: float  # the settled (or last) limit
    basis: Basis
    settled_from_s: float  # run clock: where the settled part starts
    end_s: float
    decisions: int
    rate_per_s: float | None = None  # ok completions per second over the settled part

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "basis": self.basis,
            "settled_from_s": self.settled_from_s,
            "end_s": self.end_s,
            "decisions": self.decisions,
            "rate_per_s": self.rate_per_s,
        }


def settled_users(trajectory: Sequence[Mapping[str, Any]]) -> FirstEstimate | None:
    """Where an adaptive run's trajectory (``adaptive.jsonl`` entries) settled; None when
    the controller never decided (too few answers for its percentile)."""
    decided = [e for e in trajectory if e.get("action") != "start"]
    if not decided:
        return None
    end_s = float(trajectory[-1]["t_s"])
    first_cut = next(
        (i for i, e in enumerate(trajectory) if e["action"] in ("decrease", "hold")), None
    )
    if first_cut is None:
        final = trajectory[-1]["limit"]
        since = next(e for e in trajectory if e["limit"] == final)  # limits only grew
        return FirstEstimate(
            users=float(final),
            basis="still_rising",
            settled_from_s=float(since["t_s"]),
            end_s=end_s,
            decisions=len(decided),
        )
    settled = trajectory[first_cut:]
    return FirstEstimate(
        users=float(statistics.median(int(e["limit"]) for e in settled)),
        basis="settled",
        settled_from_s=float(settled[0]["t_s"]),
        end_s=end_s,
        decisions=len(decided),
    )


def with_rate(estimate: FirstEstimate, ok_done_ns: Iterable[int], end_s: float) -> FirstEstimate:
    """``estimate`` with the ok completions per second from its settled part to ``end_s``
    (when the run stopped sending), from ok requests' ``done_at`` on the run clock; the rate
    is None when that part is too short."""
    start_ns = int(estimate.settled_from_s * NS_PER_S)
    end_ns = int(end_s * NS_PER_S)
    span_s = (end_ns - start_ns) / NS_PER_S
    if span_s < MIN_SETTLED_S:
        return estimate
    done = sum(1 for at in ok_done_ns if start_ns <= at < end_ns)
    return FirstEstimate(
        users=estimate.users,
        basis=estimate.basis,
        settled_from_s=estimate.settled_from_s,
        end_s=end_s,
        decisions=estimate.decisions,
        rate_per_s=done / span_s if done else None,
    )
