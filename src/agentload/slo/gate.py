"""A run's thresholds as one record sink: abort rules during the run, verdicts at its end.

Abort rules follow k6's ``abortOnFail`` / ``delayAbortEval``: a rule is not judged before
its ``delay`` (seconds from the run start); after that, the first check that finds it
failed (``ok is False``; no data never aborts, nor does a run-level threshold, which has
no data before the run ends) names it, and the caller stops the run as a
first Ctrl-C would. Checks are cheap (one histogram scan per rule) so they can run on the
live ticker, every 0.25 s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from agentload.records.record import RequestRecord
from agentload.slo.aggregate import SloAggregator
from agentload.slo.evaluate import Verdict, evaluate
from agentload.slo.grammar import Threshold
from agentload.slo.run_level import RunFacts


@dataclass(frozen=True, slots=True)
class Rule:
    threshold: Threshold
    abort_on_fail: bool = False
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Abort:
    expr: str
    at_s: float  # run clock, when the rule was found failed
    verdict: Verdict


class SloGate:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self.aggregator = SloAggregator(r.threshold for r in self.rules)
        self._abort_rules = [r for r in self.rules if r.abort_on_fail]
        self.aborted: Abort | None = None

    def add(self, record: RequestRecord) -> None:
        self.aggregator.add(record)

    @property
    def has_abort_rules(self) -> bool:
        return bool(self._abort_rules)

    def check_abort(self, elapsed_s: float) -> Abort | None:
        """The first abort rule lost at ``elapsed_s`` (rates use it as the duration); once
        one is found it is kept and returned again."""
        if self.aborted is not None:
            return self.aborted
        for rule in self._abort_rules:
            if elapsed_s < rule.delay_s:
                continue
            verdict = evaluate(rule.threshold, self.aggregator, elapsed_s, abort_on_fail=True)
            if verdict.ok is False:
                self.aborted = Abort(str(rule.threshold), elapsed_s, verdict)
                return self.aborted
        return None

    def verdicts(
        self,
        duration_s: float | None,
        aborted_by: str | None = None,
        run: RunFacts | None = None,
    ) -> list[Verdict]:
        """Final verdicts (``run``: the run-level facts, once it has ended). The rule that
        aborted the run fails whatever its final value (k6 does the same): the run stopped
        because of it."""
        out: list[Verdict] = []
        for rule in self.rules:
            verdict = evaluate(
                rule.threshold,
                self.aggregator,
                duration_s,
                abort_on_fail=rule.abort_on_fail,
                run=run,
            )
            if aborted_by is not None and str(rule.threshold) == aborted_by:
                note = "stopped the run (abort_on_fail)"
                verdict = dataclasses.replace(verdict, ok=False, aborted_run=True, note=note)
                aborted_by = None  # only the first rule with that text
            out.append(verdict)
        return out
