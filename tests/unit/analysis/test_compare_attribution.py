"""Phase attribution of a comparison with client-measured phases beside the server's: the
``client.*`` and ``step.*`` phases are listed as detail and never counted twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.compare import Comparison, MetricChange
from agentload.analysis.compare_attribution import attribute
from agentload.analysis.compare_samples import (
    OUTSIDE_SERVER,
    PhaseSamples,
    is_client_phase,
    load_run_samples,
)
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir
from agentload.report.markdown import attribution_lines

MS = 1_000_000


def _samples(rng: np.random.Generator, n: int, queue_ms: float) -> PhaseSamples:
    """Server phases queue + decode, outside_server 2 ms, and client phases that overlap
    them: client.first_byte (nearly the whole latency) and step.inference (queue + decode)."""
    queue = queue_ms * rng.exponential(1.0, n)
    decode = 20 * rng.lognormal(0, 0.3, n)
    outside = np.full(n, 2.0)
    latency = queue + decode + outside
    return PhaseSamples(
        latency_ms=latency,
        phases_ms={
            "queue": queue,
            "decode": decode,
            OUTSIDE_SERVER: outside,
            "client.first_byte": latency - 1.0,
            "step.inference": queue + decode,
            "client.connect": np.full(n, np.nan),  # a reused connection: absent
        },
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), queue_ms=st.floats(5, 200), p=st.sampled_from([50, 90, 99]))
def test_attributed_shares_add_up_to_one_and_client_phases_are_detail(
    seed: int, queue_ms: float, p: float
) -> None:
    rng = np.random.default_rng(seed)
    changes = attribute(_samples(rng, 400, queue_ms), _samples(rng, 400, 0.0), p)
    attributed = [c for c in changes if not c.detail]
    details = [c for c in changes if c.detail]
    assert {c.phase for c in attributed} == {"queue", "decode", OUTSIDE_SERVER}
    assert {c.phase for c in details} == {"client.first_byte", "step.inference"}
    # Detail comes after every attributed phase, so a reader sees the sum first.
    assert changes[: len(attributed)] == tuple(attributed)
    shares = [c.share for c in attributed]
    assert all(s is not None for s in shares)
    assert sum(s for s in shares if s is not None) == pytest.approx(1.0, abs=1e-6)
    assert attributed[0].phase == "queue"


def test_client_phase_names() -> None:
    for name in ("client.connect", "client.first_step", "step.plan", "step.tool.search",
                 "session_create", "queue_wait", "execution", "poll_overhead"):  # fmt: skip
        assert is_client_phase(name), name
    for name in ("queue", "prefill", "decode", "store_read", "tool", "db", OUTSIDE_SERVER):
        assert not is_client_phase(name), name


def _write(path: Path, phases: list[dict[str, float]], latency_ms: float) -> Path:
    run_dir = RunDir.create(path)
    run_dir.write_meta({"name": path.name, "status": "complete"})
    writer = run_dir.record_writer()
    for i, ph in enumerate(phases):
        at = i * 10 * MS
        done = at + int(latency_ms * MS)
        record = RequestRecord(seq=i, worker=0, action="chat", intended_at=at, sent_at=at,
                               done_at=done, outcome=Outcome.OK, phases_ms=ph)  # fmt: skip
        writer.add(record)
    writer.close()
    return path


def test_outside_server_counts_server_phases_only(tmp_path: Path) -> None:
    """Without a server ``total``, outside_server is latency minus the server's phases: the
    client's phases (which overlap them) are not subtracted a second time."""
    phases = {"queue": 30.0, "decode": 50.0, "client.first_byte": 95.0, "step.plan": 4.0}
    samples = load_run_samples(_write(tmp_path / "a", [phases] * 5, 100.0))
    assert samples.latency.phases_ms[OUTSIDE_SERVER] == pytest.approx(np.full(5, 20.0), abs=0.01)
    # Client phases alone say nothing of the server: no outside_server at all.
    only_client = load_run_samples(_write(tmp_path / "b", [{"client.connect": 3.0}] * 5, 50.0))
    assert OUTSIDE_SERVER not in only_client.latency.phases_ms


def test_markdown_lists_client_phases_apart_from_the_attributed_ones() -> None:
    rng = np.random.default_rng(4)
    changes = attribute(_samples(rng, 400, 80.0), _samples(rng, 400, 0.0), 99)
    metric = MetricChange("latency_p99", "ms", 300.0, 60.0, "improved")
    comparison = Comparison("base", "new", 0.99, (metric,), {"latency_p99": changes})
    main, detail = attribution_lines(comparison)
    assert main.startswith("- latency p99 -80%, of which queue")
    assert "client." not in main and "step." not in main and "decode" in main
    assert detail.startswith("- latency p99 detail (client-measured, overlaps the above): ")
    assert "client.first_byte" in detail and "step.inference" in detail
    assert "of the change" not in detail  # never a share of the sum
