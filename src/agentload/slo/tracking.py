"""A run's thresholds and goodput as one record sink, and the summary they complete.

The same object serves a live run (``agentload run``: fed by the engine, checked on the
ticker) and a re-evaluation (``agentload report``: fed from records.jsonl, thresholds read
back from the run's scenario.yaml), so both give the same verdicts for the same records;
run-level thresholds and the trust flag are judged in ``complete``, from the run's telemetry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentload.analysis.generator_check import (
    CPU_LIMIT_PERCENT,
    LOOP_LAG_LIMIT_MS,
    generator_verdict,
)
from agentload.analysis.goodput import Goodput, GoodputCounter
from agentload.analysis.summary import Summary
from agentload.analysis.validity import untrusted_reasons
from agentload.config.thresholds import SloSection, ThresholdSpec
from agentload.records.record import RequestRecord
from agentload.records.samples import Sample
from agentload.slo.gate import Abort, Rule, SloGate
from agentload.slo.run_level import RunFacts


class RunSlo:
    def __init__(self, specs: Sequence[ThresholdSpec]) -> None:
        rules = [Rule(s.parsed(), s.abort_on_fail, s.delay) for s in specs]
        self.gate = SloGate(rules)
        self.goodput = GoodputCounter(r.threshold for r in rules)

    @classmethod
    def from_scenario_dict(cls, data: Mapping[str, Any]) -> RunSlo:
        """From a stored scenario (scenario.yaml); raises pydantic's ValidationError."""
        return cls(SloSection.model_validate(dict(data)).all())

    @property
    def tracks_records(self) -> bool:
        """Whether records must be fed to ``add``: there are thresholds to judge or goodput
        objectives to check. Without either, the run's summary holds the goodput (every ok
        request is good) and the engine need not call this sink at all."""
        return bool(self.gate.rules or self.goodput.objectives)

    def add(self, record: RequestRecord) -> None:
        self.gate.add(record)
        self.goodput.add(record)

    @property
    def has_abort_rules(self) -> bool:
        return self.gate.has_abort_rules

    def check_abort(self, elapsed_s: float) -> Abort | None:
        return self.gate.check_abort(elapsed_s)

    def complete(
        self,
        summary: Summary,
        aborted_by: str | None = None,
        *,
        samples: Iterable[Sample] = (),
        generator_limits: Mapping[str, Any] | None = None,
    ) -> Summary:
        """The summary with its trust flag, threshold verdicts and goodput filled in.
        ``samples``: the run's telemetry; ``generator_limits``: meta.json's ``telemetry``
        entry (``cpu_limit_percent``, ``loop_lag_limit_ms``; defaults where missing)."""
        samples = list(samples)
        limits = generator_limits if isinstance(generator_limits, Mapping) else {}
        generator = generator_verdict(
            samples,
            cpu_limit_percent=_number(limits.get("cpu_limit_percent"), CPU_LIMIT_PERCENT),
            loop_lag_limit_ms=_number(limits.get("loop_lag_limit_ms"), LOOP_LAG_LIMIT_MS),
        )
        reasons = untrusted_reasons(summary, generator)
        facts = RunFacts.from_samples(samples, reasons)
        duration_s = summary.duration_s
        return dataclasses.replace(
            summary,
            untrustworthy_because=reasons,
            thresholds=tuple(self.gate.verdicts(duration_s, aborted_by, facts)),
            goodput=self.goodput.result(duration_s, summary.per_action)
            if self.tracks_records
            else goodput_without_objectives(summary),
        )


def goodput_without_objectives(summary: Summary) -> Goodput:
    """What ``GoodputCounter`` (no objectives) counts, from the summary: every ok request is
    good, and a session is good when each of its requests was ok (the summary's succeeded)."""
    duration_s = summary.duration_s

    def rate(count: int) -> float | None:
        return count / duration_s if duration_s else None

    sessions = summary.sessions or {}
    count, good = int(sessions.get("count", 0)), int(sessions.get("succeeded", 0))
    return Goodput(
        objectives=(),
        good=summary.ok,
        per_s=rate(summary.ok),
        per_action={name: (a.ok, rate(a.ok)) for name, a in summary.per_action.items()},
        sessions=count,
        sessions_good=good,
        sessions_per_s=rate(good) if count else None,
    )


def _number(value: Any, default: float) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if number else default
