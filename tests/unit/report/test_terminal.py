from rich.console import Console, RenderableType

from agentload.analysis.summary import summarize
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.window import RollingWindow
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.report.terminal import live_line, render_live, render_summary

MS = 1_000_000


def text_of(renderable: RenderableType) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def ok(seq: int, action: str = "chat") -> RequestRecord:
    t = seq * 100 * MS
    return RequestRecord(
        seq=seq,
        worker=0,
        action=action,
        intended_at=t,
        sent_at=t,
        first_byte_at=t + 10 * MS,
        first_token_at=t + 20 * MS,
        done_at=t + 250 * MS,
        outcome=Outcome.OK,
        output_tokens=24,
        input_tokens=8,
        itl_ms=(10.0,) * 23,
    )


def error(seq: int, kind: ErrorKind) -> RequestRecord:
    t = seq * 100 * MS
    return RequestRecord(
        seq=seq,
        worker=0,
        action="chat",
        intended_at=t,
        sent_at=t,
        done_at=t + 5 * MS,
        outcome=Outcome.ERROR,
        error_kind=kind,
    )


def test_empty_run_renders() -> None:
    text = text_of(render_summary(summarize([], target_rate_per_s=None)))
    assert "requests 0" in text
    assert "latency (from intended)" in text and "TPOT" in text
    assert "error latency" not in text  # only shown when there were errors


def test_errors_only_run_renders() -> None:
    records = [
        error(i, ErrorKind.HTTP_5XX if i % 3 else ErrorKind.CONNECT_REFUSED) for i in range(9)
    ]
    text = text_of(render_summary(summarize(records, target_rate_per_s=10.0)))
    assert "error 9" in text
    assert "errors by kind" in text and "http_5xx" in text and "connect_refused" in text
    assert "error latency" in text and "5.0ms" in text
    assert "warning: no request succeeded" in text
    assert "target 10.0/s" in text


def test_full_run_renders_units_actions_and_warnings() -> None:
    records = [ok(i, "chat" if i % 2 else "search") for i in range(40)]
    records.append(error(40, ErrorKind.HTTP_429))
    text = text_of(render_summary(summarize(records, target_rate_per_s=50.0)))
    assert "250ms" in text  # latency in human units
    assert "per action" in text and "search" in text
    assert "tokens: in 320 · out 960" in text
    assert "warning: latency p90, p95, p99, p99.9 rest on 40 samples" not in text
    assert "warning: latency p99, p99.9 rest on 40 samples" in text
    assert "target 50.0/s" in text


def test_single_action_has_no_action_table() -> None:
    text = text_of(render_summary(summarize([ok(0), ok(1)], target_rate_per_s=None)))
    assert "per action" not in text


def test_live_view_and_line() -> None:
    window, totals = RollingWindow(), RunAggregator()
    for i in range(30):
        record = ok(i) if i % 10 else error(i, ErrorKind.TOTAL_TIMEOUT)
        window.add(record, record.done_at)
        totals.add(record)
    text = text_of(render_live(window, elapsed_s=3.2, remaining_s=56.8, in_flight=4, totals=totals))
    assert "3.20s elapsed, 56.80s left" in text
    assert "in flight" in text and "total_timeout 3" in text
    assert "p50 250ms" in text and "TTFT p50 20.0ms" in text
    line = live_line(window, elapsed_s=3.2, remaining_s=None, in_flight=4, totals=totals)
    assert "\n" not in line
    assert line.startswith("3.20s elapsed |")
    assert "in-flight 4" in line and "ok 27 err 3" in line and "total_timeout 3" in line


def test_live_view_before_any_record() -> None:
    text = text_of(
        render_live(
            RollingWindow(), elapsed_s=0.0, remaining_s=None, in_flight=0, totals=RunAggregator()
        )
    )
    assert "errors" in text and "none" in text
