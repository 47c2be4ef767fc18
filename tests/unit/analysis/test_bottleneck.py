"""The bottleneck rules on synthetic runs where the answer is known."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.attribution import PhaseWindows
from agentload.analysis.bottleneck import NAMES, diagnose, with_bottleneck
from agentload.analysis.summary import summarize
from agentload.records.record import Outcome, RequestRecord
from agentload.records.samples import Sample

MS = 1_000_000
S = 1_000_000_000


def turn(i: int, phases: dict[str, float], *, lag_ms: float = 0.5, outside_ms: float = 2.0):
    """Request ``i`` of a 10/s run whose server reports ``phases`` (total = their sum)."""
    total = sum(phases.values())
    intended = i * 100 * MS
    sent = intended + int(lag_ms * MS)
    return RequestRecord(
        seq=i,
        worker=0,
        action="chat",
        intended_at=intended,
        sent_at=sent,
        done_at=sent + int((total + outside_ms) * MS),
        outcome=Outcome.OK,
        phases_ms={**phases, "total": total},
    )


def windows_of(records: Iterable[RequestRecord]) -> PhaseWindows:
    windows = PhaseWindows()
    for record in records:
        windows.add(record)
    return windows


def run(n: int = 100, **phases: float) -> PhaseWindows:
    return windows_of(turn(i, dict(phases)) for i in range(n))


def test_each_waiting_phase_names_its_cause() -> None:
    compute = {"prefill": 10.0, "decode": 60.0}
    assert diagnose(run(queue=300, **compute)).name == "inference_queue"
    assert diagnose(run(store_read=150, store_write=150, **compute)).name == "context_store"
    assert diagnose(run(tool=400, **compute)).name == "tool_calls"
    found = diagnose(run(store_read=400, **compute))
    assert found.confidence >= 0.7  # 85% of latency, nothing else close
    assert found.evidence[0].startswith("context_store: 85% of latency over all ok requests")


def test_work_without_waiting_is_no_bottleneck() -> None:
    found = diagnose(run(prefill=20, decode=200, queue=3, tool=5))
    assert found.name == "none" and found.confidence > 0.7
    assert "model compute 95% of latency" in found.evidence  # 220 of 232.5 ms


def test_too_few_requests_say_nothing() -> None:
    found = diagnose(run(n=10, queue=500))
    assert found.name == "none" and found.confidence == 0.0


def test_a_saturated_accelerator_makes_compute_the_bottleneck() -> None:
    windows = run(prefill=20, decode=200)
    gpu = [Sample(i * S, "gpu", {"gpu0.util_percent": 97.0}) for i in range(10)]
    assert diagnose(windows, gpu).name == "inference_compute"
    idle = [Sample(i * S, "gpu", {"gpu0.util_percent": 40.0}) for i in range(10)]
    assert diagnose(windows, idle).name == "none"


def test_a_late_generator_is_named_only_when_its_delay_is_a_real_share() -> None:
    late = windows_of(turn(i, {"decode": 20.0}, lag_ms=30, outside_ms=15) for i in range(100))
    found = diagnose(late, lag_p99_ms=40.0, service_p50_ms=37.0)
    assert found.name == "load_generator" and not found.trustworthy
    assert any("schedule lag p99 40.0 ms > the 10.0 ms limit" in line for line in found.evidence)
    # the same lag against 2 s answers is noise, not the bottleneck
    slow = windows_of(turn(i, {"decode": 2000.0}, lag_ms=30) for i in range(100))
    assert diagnose(slow, lag_p99_ms=40.0, service_p50_ms=2002.0).name == "none"


def test_generator_telemetry_alone_can_flag_the_generator() -> None:
    records = [turn(i, {"decode": 20.0}, lag_ms=1, outside_ms=40) for i in range(100)]
    saturated = [Sample(i * S, "generator", {"generator.loop_lag_ms": 80.0}) for i in range(10)]
    assert diagnose(windows_of(records), saturated, lag_p99_ms=2.0).name == "load_generator"
    # without the telemetry, time outside the server is the network's or the client's
    assert diagnose(windows_of(records), lag_p99_ms=2.0).name == "network_or_client"


def test_telemetry_that_rises_with_latency_raises_the_confidence() -> None:
    records = []
    for i in range(100):  # the queue, and its share, build up through the run
        records.append(turn(i, {"queue": 10.0 * (i // 10), "decode": 40.0}))
    windows = windows_of(records)
    plain = diagnose(windows)
    samples = [
        Sample(s * S + S // 2, "server", {"server.queue_length": 3.0 * s}) for s in range(10)
    ]
    backed = diagnose(windows, samples)
    assert plain.name == backed.name == "inference_queue"
    assert backed.confidence > plain.confidence
    assert any(
        line.startswith("server.queue_length rises with latency") for line in backed.evidence
    )
    assert any("its share grew" in line for line in plain.evidence)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["queue", "prefill", "decode", "store_read", "tool"]),
        st.floats(0, 1000),
        min_size=1,
    ),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_every_verdict_is_a_known_name_with_confidence_in_0_1(
    phases: dict[str, float], lag_ms: float, outside_ms: float
) -> None:
    windows = windows_of(turn(i, phases, lag_ms=lag_ms, outside_ms=outside_ms) for i in range(30))
    found = diagnose(windows, lag_p99_ms=lag_ms, service_p50_ms=sum(phases.values()))
    assert found.name in NAMES and 0.0 <= found.confidence <= 1.0
    assert found.evidence


def test_the_summary_carries_the_verdict_and_a_starved_run_is_untrustworthy() -> None:
    records = [turn(i, {"decode": 20.0}, lag_ms=60, outside_ms=30) for i in range(100)]
    summary = summarize(records, target_rate_per_s=None)
    summary = dataclasses.replace(summary, warnings=(*summary.warnings, "from telemetry"))
    done = with_bottleneck(summary, windows_of(records))
    assert done.bottleneck is not None and done.bottleneck.name == "load_generator"
    assert done.warnings[: len(summary.warnings)] == summary.warnings  # nothing lost
    assert done.warnings[-1].startswith("run untrustworthy: the load generator is the bottleneck")
    data = done.to_dict()["bottleneck"]
    assert data["name"] == "load_generator" and data["trustworthy"] is False
    assert data["windows"]["count"] == [10] * 10
    assert "bottleneck" not in summary.to_dict()  # optional: absent until analysed


def test_the_verdict_shows_how_the_cause_grows_with_offered_load() -> None:
    records, at_ms = [], 0.0
    for rate, queue in ((10, 5.0), (40, 300.0)):
        for _ in range(4 * rate):
            intended = int(at_ms * MS)
            total = queue + 60.0
            records.append(
                RequestRecord(
                    seq=len(records),
                    worker=0,
                    action="chat",
                    intended_at=intended,
                    sent_at=intended,
                    done_at=intended + int(total * MS),
                    outcome=Outcome.OK,
                    phases_ms={"queue": queue, "decode": 60.0, "total": total},
                )
            )
            at_ms += 1000 / rate
    found = diagnose(windows_of(records))
    assert found.name == "inference_queue"
    assert "inference_queue share by offered load: 8% at 10/s, 83% at 40/s" in found.evidence
    steps = found.details["load_steps"]
    assert [s["due_per_s"] for s in steps] == [10.0, 40.0]


def test_the_runs_own_generator_limits_decide_whether_it_saturated() -> None:
    records = [turn(i, {"decode": 20.0}, lag_ms=1, outside_ms=40) for i in range(100)]
    lagging = [Sample(i * S, "generator", {"generator.loop_lag_ms": 30.0}) for i in range(10)]
    windows = windows_of(records)
    assert diagnose(windows, lagging, lag_p99_ms=2.0).name == "network_or_client"  # 30 < 50 ms
    strict = {"loop_lag_limit_ms": 10.0}
    assert diagnose(windows, lagging, lag_p99_ms=2.0, generator_limits=strict).name == (
        "load_generator"
    )


def test_without_phases_a_rising_growing_queue_is_a_lead_from_telemetry() -> None:
    records = []
    for i in range(100):  # a target without Server-Timing whose latency climbs
        intended = i * 100 * MS
        records.append(
            RequestRecord(
                seq=i,
                worker=0,
                action="chat",
                intended_at=intended,
                sent_at=intended,
                done_at=intended + (50 + 20 * (i // 10)) * MS,
                outcome=Outcome.OK,
            )
        )
    queue = [Sample(s * S + S // 2, "server", {"server.queue_length": 2.0 * s}) for s in range(10)]
    found = diagnose(windows_of(records), queue)
    assert found.name == "inference_queue" and 0.45 <= found.confidence <= 0.5
    assert "from telemetry" in found.headline
    assert any(
        line.startswith("server.queue_length grows through the run: +2/s")
        for line in found.evidence
    )
    flat = [Sample(s * S, "server", {"server.queue_length": 1.0 + s % 2}) for s in range(10)]
    assert diagnose(windows_of(records), flat).name == "none"


def job(i: int, *, poll_ms: float, lag_ms: float = 0.5) -> RequestRecord:
    """Request ``i`` of an async job run: 300 ms of server work, then ``poll_ms`` until the
    next poll saw the result (the client's ``poll_overhead`` phase, outside the total)."""
    intended = i * 100 * MS
    sent = intended + int(lag_ms * MS)
    phases = {"queue": 2.0, "prefill": 8.0, "decode": 290.0, "total": 300.0}
    return RequestRecord(
        seq=i,
        worker=0,
        action="research",
        intended_at=intended,
        sent_at=sent,
        done_at=sent + int((300.0 + poll_ms + 2.0) * MS),
        outcome=Outcome.OK,
        phases_ms={**phases, "queue_wait": 1.0, "execution": 299.0, "poll_overhead": poll_ms},
    )


def test_poll_overhead_is_its_own_cause_and_never_the_generators() -> None:
    windows = windows_of(job(i, poll_ms=150.0) for i in range(100))
    found = diagnose(windows)
    assert found.name == "polling" and found.trustworthy
    assert any(
        line.startswith("poll overhead 33% of time to result: poll faster or use a push API")
        for line in found.evidence
    ), found.evidence
    # a strained generator owns the time outside the server, but not the polling
    busy = [Sample(i * S, "generator", {"generator.loop_lag_ms": 80.0}) for i in range(10)]
    strained = diagnose(windows, busy, lag_p99_ms=1.0)
    assert strained.name == "polling" and strained.trustworthy
    assert strained.details["causes"]["all"]["load_generator"] < 0.01


def test_a_little_polling_is_evidence_not_a_verdict() -> None:
    found = diagnose(windows_of(job(i, poll_ms=30.0) for i in range(100)))
    assert found.name == "none"
    assert "poll overhead 9% of time to result: poll faster or use a push API" in found.evidence
