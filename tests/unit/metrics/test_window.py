import pytest

from agentload.metrics.window import RollingWindow
from agentload.records.record import ErrorKind, Outcome, RequestRecord

S = 1_000_000_000
MS = 1_000_000


def record(outcome: Outcome = Outcome.OK, *, latency_ms: int = 100) -> RequestRecord:
    kind = ErrorKind.TOTAL_TIMEOUT if outcome == Outcome.ERROR else None
    sent = None if outcome == Outcome.DROPPED else 0
    return RequestRecord(
        seq=0,
        worker=0,
        action="chat",
        intended_at=0,
        sent_at=sent,
        done_at=latency_ms * MS,
        first_token_at=(latency_ms // 2) * MS,
        outcome=outcome,
        error_kind=kind,
    )


def test_empty_window() -> None:
    snap = RollingWindow().snapshot(5 * S)
    assert snap.sent == 0 and snap.achieved_per_s == 0
    assert snap.latency_p50_ms is None and snap.ttft_p50_ms is None
    assert snap.errors_by_kind == {}


def test_rolling_figures() -> None:
    window = RollingWindow(window_s=10)
    for second in range(20):
        for _ in range(5):
            window.add(record(latency_ms=100 if second < 10 else 200), second * S + S // 2)
    window.add(record(Outcome.ERROR), 19 * S)
    window.add(record(Outcome.DROPPED), 19 * S)
    snap = window.snapshot(19 * S + S // 2)
    # Seconds 10..19 are covered: 9.5 s of window, 50 ok + 1 error sent.
    assert snap.window_s == pytest.approx(9.5)
    assert snap.sent == 51 and snap.ok == 50 and snap.dropped == 1 and snap.errors == 1
    assert snap.achieved_per_s == pytest.approx(51 / 9.5)
    assert snap.latency_p50_ms == 200 and snap.latency_p99_ms == 200  # older 100s expired
    assert snap.ttft_p50_ms == 100
    assert snap.errors_by_kind == {"total_timeout": 1}


def test_window_shorter_than_run_start_and_stale_records() -> None:
    window = RollingWindow(window_s=10)
    window.add(record(), 2 * S)
    assert window.snapshot(3 * S).window_s == pytest.approx(3.0)  # never before run start
    window.add(record(), 12 * S)  # reuses the slot of second 2
    window.add(record(), 2 * S)  # too old now: ignored
    assert window.snapshot(12 * S).sent == 1


def test_rejects_empty_window() -> None:
    with pytest.raises(ValueError):
        RollingWindow(window_s=0)
