"""Abort rules (k6 abortOnFail + delayAbortEval) and final verdicts, on a manual timeline."""

from __future__ import annotations

from agentload.records.record import ErrorKind, Outcome
from agentload.slo.gate import Rule, SloGate
from agentload.slo.grammar import parse_threshold
from agentload.testing import make_record

MS = 1_000_000


def test_abort_waits_for_the_delay_then_names_the_rule() -> None:
    rule = Rule(parse_threshold("error_rate < 10%"), abort_on_fail=True, delay_s=5.0)
    gate = SloGate([rule, Rule(parse_threshold("p99(latency) < 1ms"))])
    for seq in range(10):
        gate.add(make_record(seq=seq, outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_5XX))
    assert gate.check_abort(4.99) is None  # lost already, but not judged before the delay
    abort = gate.check_abort(5.0)
    assert abort is not None and abort.expr == "error_rate < 10%" and abort.at_s == 5.0
    assert abort.verdict.ok is False and abort.verdict.observed == 1.0
    assert gate.check_abort(6.0) is abort  # kept once found


def test_rules_without_abort_on_fail_never_abort() -> None:
    gate = SloGate([Rule(parse_threshold("p99(latency) < 1ms"))])
    gate.add(make_record(done_at=500 * MS))
    assert not gate.has_abort_rules
    assert gate.check_abort(100.0) is None


def test_no_data_never_aborts_and_passing_rules_do_not_either() -> None:
    gate = SloGate(
        [
            Rule(parse_threshold("p99(ttft{action=zzz}) < 1ms"), abort_on_fail=True),
            Rule(parse_threshold("p99(latency) < 1s"), abort_on_fail=True),
        ]
    )
    gate.add(make_record(done_at=100 * MS))
    assert gate.check_abort(10.0) is None


def test_rate_rules_use_the_elapsed_time() -> None:
    gate = SloGate([Rule(parse_threshold("rate(ok) >= 2/s"), abort_on_fail=True, delay_s=1)])
    for seq in range(10):
        gate.add(make_record(seq=seq))
    assert gate.check_abort(5.0) is None  # 10 in 5 s = 2/s
    abort = gate.check_abort(6.0)
    assert abort is not None and abort.verdict.observed == 10 / 6


def test_the_rule_that_aborted_fails_in_the_final_verdicts() -> None:
    rules = [
        Rule(parse_threshold("p99(latency) < 1s")),
        Rule(parse_threshold("error_rate < 50%"), abort_on_fail=True),
    ]
    gate = SloGate(rules)
    gate.add(make_record(done_at=100 * MS))
    verdicts = gate.verdicts(1.0, aborted_by="error_rate < 50%")
    assert verdicts[0].ok is True and not verdicts[0].aborted_run
    assert verdicts[1].ok is False and verdicts[1].aborted_run  # passes now, but it stopped the run
    assert verdicts[1].abort_on_fail and verdicts[1].note is not None
