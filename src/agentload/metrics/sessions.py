"""Session-level results: what happened to each conversation, and latency by turn index.

Memory grows with the number of sessions (one small entry each), not with requests; a run of
a million sessions holds ~100 MB here, which is the price of per-session outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentload.metrics.histogram import LatencyHistogram
from agentload.records.record import Outcome, RequestRecord

MAX_TURN_INDEX = 100  # turns past this share one row, so a runaway session cannot grow memory


@dataclass(slots=True)
class _Session:
    first_intended_at: int
    last_done_at: int
    turns: int = 0
    failed: bool = False
    persona: str | None = None


class _PersonaTotals:
    """Turns of one persona: counts and the latency of the ok ones."""

    __slots__ = ("error", "latency", "ok", "slow", "turns")

    def __init__(self) -> None:
        self.turns = 0
        self.ok = 0
        self.error = 0  # every turn that was not ok (errors, drops, cancellations)
        self.slow = 0
        self.latency = LatencyHistogram()

    def merge(self, other: _PersonaTotals) -> None:
        self.turns += other.turns
        self.ok += other.ok
        self.error += other.error
        self.slow += other.slow
        self.latency.merge(other.latency)


class SessionAggregator:
    """Feeds on records that carry a ``session_id``; others are ignored."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self.latency_by_turn: dict[int, LatencyHistogram] = {}
        self.ttft_by_turn: dict[int, LatencyHistogram] = {}
        self.input_tokens_by_turn: dict[int, list[int]] = {}  # [sum, count]
        self.by_persona: dict[str, _PersonaTotals] = {}  # runs with personas only

    def add(self, record: RequestRecord) -> None:
        if record.session_id is None:
            return
        session = self._sessions.get(record.session_id)
        if session is None:
            session = self._sessions[record.session_id] = _Session(
                record.intended_at, record.done_at
            )
        session.first_intended_at = min(session.first_intended_at, record.intended_at)
        session.last_done_at = max(session.last_done_at, record.done_at)
        session.turns += 1
        if record.persona is not None:
            session.persona = record.persona
            persona = self.by_persona.setdefault(record.persona, _PersonaTotals())
            persona.turns += 1
            if record.outcome is Outcome.OK:
                persona.ok += 1
                persona.slow += record.slow
                if (persona_latency_ms := record.latency_ms) is not None:
                    persona.latency.record_ms(persona_latency_ms)
            else:
                persona.error += 1
        if record.outcome is not Outcome.OK:
            session.failed = True
            return
        turn = min(record.turn, MAX_TURN_INDEX)
        if (latency_ms := record.latency_ms) is not None:
            self.latency_by_turn.setdefault(turn, LatencyHistogram()).record_ms(latency_ms)
        if (ttft_ms := record.ttft_ms) is not None:
            self.ttft_by_turn.setdefault(turn, LatencyHistogram()).record_ms(ttft_ms)
        if record.input_tokens is not None:
            totals = self.input_tokens_by_turn.setdefault(turn, [0, 0])
            totals[0] += record.input_tokens
            totals[1] += 1

    @property
    def count(self) -> int:
        return len(self._sessions)

    def merge(self, other: SessionAggregator) -> None:
        """Fold in another shard's sessions (a session seen by both is joined)."""
        for session_id, theirs in other._sessions.items():
            mine = self._sessions.get(session_id)
            if mine is None:
                self._sessions[session_id] = _Session(
                    theirs.first_intended_at, theirs.last_done_at, theirs.turns,
                    theirs.failed, theirs.persona,
                )  # fmt: skip
                continue
            mine.first_intended_at = min(mine.first_intended_at, theirs.first_intended_at)
            mine.last_done_at = max(mine.last_done_at, theirs.last_done_at)
            mine.turns += theirs.turns
            mine.failed = mine.failed or theirs.failed
            mine.persona = mine.persona or theirs.persona
        for mine_by, theirs_by in (
            (self.latency_by_turn, other.latency_by_turn),
            (self.ttft_by_turn, other.ttft_by_turn),
        ):
            for turn, histogram in theirs_by.items():
                mine_by.setdefault(turn, LatencyHistogram()).merge(histogram)
        for turn, (total, count) in other.input_tokens_by_turn.items():
            sums = self.input_tokens_by_turn.setdefault(turn, [0, 0])
            sums[0] += total
            sums[1] += count
        for name, totals in other.by_persona.items():
            self.by_persona.setdefault(name, _PersonaTotals()).merge(totals)

    def _personas(self) -> dict[str, dict[str, object]]:
        """Per persona: sessions (and how many succeeded), turns, ok/error/slow turns, and
        the latency of its ok turns."""
        sessions: dict[str, list[int]] = {}  # persona -> [count, succeeded, turns]
        for session in self._sessions.values():
            if session.persona is not None:
                row = sessions.setdefault(session.persona, [0, 0, 0])
                row[0] += 1
                row[1] += not session.failed
                row[2] += session.turns
        total = sum(row[0] for row in sessions.values()) or 1
        table: dict[str, dict[str, object]] = {}
        for name in sorted(self.by_persona):
            totals = self.by_persona[name]
            count, succeeded, turns = sessions.get(name, [0, 0, 0])
            table[name] = {
                "sessions": count,
                "share": count / total,
                "succeeded": succeeded,
                "turns_mean": turns / count if count else None,
                "ok": totals.ok,
                "error": totals.error,
                "slow": totals.slow,
                "latency_p50_ms": totals.latency.percentile_ms(50),
                "latency_p99_ms": totals.latency.percentile_ms(99),
            }
        return table

    def to_dict(self) -> dict[str, object] | None:
        """The ``sessions`` block of summary.json, or None when the run had no sessions.

        A session "failed" when any of its turns did not succeed (the load side stops a
        session at its first failed turn, as a user would); duration runs from its first
        turn's intended start to its last answer.
        """
        if not self._sessions:
            return None
        durations = LatencyHistogram()
        turns = LatencyHistogram()
        failed = 0
        for session in self._sessions.values():
            durations.record_ms((session.last_done_at - session.first_intended_at) / 1e6)
            turns.record_ms(float(session.turns))
            failed += session.failed
        count = len(self._sessions)
        by_turn = []
        for turn in sorted(self.latency_by_turn):
            latency = self.latency_by_turn[turn]
            ttft = self.ttft_by_turn.get(turn)
            tokens = self.input_tokens_by_turn.get(turn)
            by_turn.append(
                {
                    "turn": turn,
                    "ok": latency.count,
                    "latency_p50_ms": latency.percentile_ms(50),
                    "latency_p99_ms": latency.percentile_ms(99),
                    "ttft_p50_ms": None if ttft is None else ttft.percentile_ms(50),
                    "input_tokens_mean": None if not tokens else tokens[0] / tokens[1],
                }
            )
        return {
            "count": count,
            "succeeded": count - failed,
            "failed": failed,
            "success_rate": (count - failed) / count,
            "duration_ms": {
                "p50": durations.percentile_ms(50),
                "p90": durations.percentile_ms(90),
                "max": durations.max_ms,
            },
            "turns": {"mean": turns.mean_ms, "max": turns.max_ms},
            "by_turn": by_turn,
            "by_persona": self._personas(),
        }
