"""A run's thresholds and goodput as one record sink, and the summary they complete.

The same object serves a live run (``agentload run``: fed by the engine, checked on the
ticker) and a re-evaluation (``agentload report``: fed from records.jsonl, thresholds read
back from the run's scenario.yaml), so both give the same verdicts for the same records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from agentload.analysis.goodput import GoodputCounter
from agentload.analysis.summary import Summary
from agentload.config.thresholds import SloSection, ThresholdSpec
from agentload.records.record import RequestRecord
from agentload.slo.gate import Abort, Rule, SloGate


class RunSlo:
    def __init__(self, specs: Sequence[ThresholdSpec]) -> None:
        rules = [Rule(s.parsed(), s.abort_on_fail, s.delay) for s in specs]
        self.gate = SloGate(rules)
        self.goodput = GoodputCounter(r.threshold for r in rules)

    @classmethod
    def from_scenario_dict(cls, data: Mapping[str, Any]) -> RunSlo:
        """From a stored scenario (scenario.yaml); raises pydantic's ValidationError."""
        return cls(SloSection.model_validate(dict(data)).all())

    def add(self, record: RequestRecord) -> None:
        self.gate.add(record)
        self.goodput.add(record)

    @property
    def has_abort_rules(self) -> bool:
        return self.gate.has_abort_rules

    def check_abort(self, elapsed_s: float) -> Abort | None:
        return self.gate.check_abort(elapsed_s)

    def complete(self, summary: Summary, aborted_by: str | None = None) -> Summary:
        """The summary with its threshold verdicts and goodput filled in."""
        duration_s = summary.duration_s
        return dataclasses.replace(
            summary,
            thresholds=tuple(self.gate.verdicts(duration_s, aborted_by)),
            goodput=self.goodput.result(duration_s, summary.per_action),
        )
