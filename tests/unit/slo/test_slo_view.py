"""Verdicts of a target table, goodput and the trust flag as the terminal and Markdown show them."""

from __future__ import annotations

from rich.console import Console

from agentload.analysis.summary import Summary, summarize
from agentload.config.thresholds import ActionTargets, ThresholdSpec, all_thresholds
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.report.markdown import summary_markdown
from agentload.report.terminal import render_summary
from agentload.slo.tracking import RunSlo
from agentload.testing import make_record

MS = 1_000_000


def records(lag_ms: int) -> list[RequestRecord]:
    """1 s of traffic: 100 login (10 ms; one 5xx), 100 search (latency 1..100 ms)."""
    out = []
    for i in range(100):
        at = i * 10 * MS
        out.append(make_record(seq=2 * i, action="login", intended_at=at, done_at=at + 10 * MS))
        out.append(
            make_record(
                seq=2 * i + 1,
                action="search",
                intended_at=at,
                sent_at=at + lag_ms * MS,
                done_at=at + (i + 1) * MS,
            )
        )
    out[0] = out[0].__replace__(outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_5XX)
    return out


def completed(lag_ms: int = 0) -> Summary:
    targets = {
        "login": ActionTargets(rate=90.0, p99=0.05, error_rate=0.02),
        "search": ActionTargets(p99=0.05),
    }
    specs = all_thresholds((ThresholdSpec(expr="trustworthy == true"),), targets)
    slo = RunSlo(specs)
    data = records(lag_ms)
    for record in data:
        slo.add(record)
    return slo.complete(summarize(data, target_rate_per_s=None))


def terminal_text(summary: Summary) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render_summary(summary))
    return console.export_text()


def test_target_rows_carry_observed_limit_margin_and_verdict() -> None:
    summary = completed()
    rows = {v.expr: v for v in summary.thresholds}
    assert list(rows) == [
        "trustworthy == true",
        "rate(ok{action=login}) >= 85.5/s",
        "p99(latency{action=login}) < 50ms",
        "error_rate{action=login} < 2%",
        "p99(latency{action=search}) < 50ms",
    ]
    rate = rows["rate(ok{action=login}) >= 85.5/s"]  # 99 ok over the 1.09 s the run lasted
    assert rate.ok is True and rate.margin is not None and rate.margin > 0
    search = rows["p99(latency{action=search}) < 50ms"]
    assert search.ok is False and search.margin is not None and search.margin < -40
    markdown = summary_markdown(summary.to_dict(), title="t")
    assert "| threshold | observed | limit | margin | verdict |" in markdown
    assert (
        "| `p99(latency{action=search}) < 50ms` | 99.0ms | 50.0ms | -49.0ms (-98%) | ❌ FAIL |"
        in (markdown)
    )
    assert "| `error_rate{action=login} < 2%` | 1.000% | 2.000% | 1.000% (+50%) | ✅ pass |" in (
        markdown
    )
    assert "| `trustworthy == true` | true | true | - | ✅ pass |" in markdown
    text = terminal_text(summary)
    assert "p99(latency{action=search}) < 50ms" in text and "FAIL" in text and "-49.0ms" in text


def test_goodput_per_action_is_rendered_in_both_reports() -> None:
    summary = completed()
    goodput = summary.to_dict()["goodput"]
    # login: 99 ok under 50 ms; search: latencies 1..49 ms meet the 50 ms objective.
    assert goodput["per_action"] == {
        "login": {"good": 99, "per_s": 99 / summary.duration_s},  # type: ignore[operator]
        "search": {"good": 49, "per_s": 49 / summary.duration_s},  # type: ignore[operator]
    }
    for text in (summary_markdown(summary.to_dict(), title="t"), terminal_text(summary)):
        assert "148 requests met every objective" in text
        assert "goodput by action: login" in text and "(99)" in text and "(49)" in text


def test_an_untrustworthy_run_says_why_and_fails_its_gate() -> None:
    summary = completed(lag_ms=30)
    assert summary.trustworthy is False
    (reason,) = summary.untrustworthy_because
    assert reason.startswith("generator fell behind: p99 schedule lag 30.0ms")
    assert summary.thresholds[0].ok is False and summary.thresholds[0].note == reason
    assert "NOT TRUSTWORTHY: generator fell behind" in terminal_text(summary)
    markdown = summary_markdown(summary.to_dict(), title="t")
    assert "**⚠️ NOT TRUSTWORTHY: generator fell behind" in markdown
    assert "| `trustworthy == true` | false | true | - | ❌ FAIL (generator fell behind" in markdown
