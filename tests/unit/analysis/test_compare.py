"""agentload.analysis.compare: verdicts, intervals, attribution, and the false-alarm rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentload.analysis.compare import DEFAULT_TOLERANCE, compare, tolerance_for
from agentload.analysis.compare_attribution import band_mask
from agentload.analysis.compare_samples import OUTSIDE_SERVER, Thinned, load_run_samples
from agentload.analysis.compare_stats import bootstrap_percentile, nearest_rank
from agentload.errors import RunDirError
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir

MS = 1_000_000


def make_run(
    path: Path,
    seed: int,
    *,
    n: int = 1000,
    scale_ms: float = 50.0,
    queue_ms: float = 0.0,
    error_p: float = 0.02,
    protocol: str = "openai-chat",
) -> Path:
    """n requests 10 ms apart, lognormal latency; phases queue (+queue_ms) and decode."""
    rng = np.random.default_rng(seed)
    run_dir = RunDir.create(path)
    run_dir.write_meta({"name": path.name, "protocol": protocol, "status": "complete"})
    writer = run_dir.record_writer()
    for i in range(n):
        intended = i * 10 * MS
        decode = float(scale_ms * rng.lognormal(0, 0.4))
        queue = float(queue_ms * rng.exponential(1.0))
        latency_ns = int((decode + queue + 1.0) * MS)
        if rng.random() < error_p:
            writer.add(
                RequestRecord(
                    seq=i,
                    worker=0,
                    action="chat",
                    intended_at=intended,
                    sent_at=intended,
                    done_at=intended + latency_ns,
                    outcome=Outcome.ERROR,
                    error_kind=ErrorKind.HTTP_5XX,
                )
            )
            continue
        writer.add(
            RequestRecord(
                seq=i,
                worker=0,
                action="chat",
                intended_at=intended,
                sent_at=intended,
                first_token_at=intended + latency_ns // 4,
                done_at=intended + latency_ns,
                outcome=Outcome.OK,
                output_tokens=4,
                itl_ms=tuple(float(x) for x in rng.gamma(4.0, 0.5, size=3)),
                phases_ms={"queue": queue, "decode": decode, "total": queue + decode},
            )
        )
    writer.close()
    return path


def test_thinned_keeps_an_even_bounded_subsample() -> None:
    thinned = Thinned(cap=100)
    for i in range(10_000):
        thinned.add(i)
    assert 50 <= len(thinned.rows) < 100
    gaps = np.diff(thinned.rows)
    assert gaps.min() == gaps.max() == thinned.stride


def test_block_bootstrap_is_centred_on_the_percentile() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(3, 0.5, size=5000)
    reps = bootstrap_percentile(values, 99, np.random.default_rng(2), resamples=400)
    truth = nearest_rank(values, 99)
    assert abs(float(np.median(reps)) - truth) / truth < 0.03
    assert reps.std() > 0


def test_a_real_latency_shift_is_significant_and_attributed_to_its_phase(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, queue_ms=40.0))
    new = load_run_samples(make_run(tmp_path / "new", 2, queue_ms=0.0))
    result = compare(base, new, seed=3)
    by_name = {m.name: m for m in result.metrics}
    for name in ("latency_p50", "latency_p90", "latency_p99"):
        assert by_name[name].verdict == "improved", by_name[name]
        assert by_name[name].ci_high is not None and by_name[name].ci_high < 0
    phases = {p.phase: p for p in result.attribution["latency_p99"]}
    assert result.attribution["latency_p99"][0].phase == "queue"
    assert phases["queue"].share is not None and phases["queue"].share > 0.5
    shares = [p.share for p in result.attribution["latency_p99"] if p.share is not None]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)  # outside_server closes the sum
    assert OUTSIDE_SERVER in phases


def test_too_few_samples_is_inconclusive_not_a_verdict(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, n=200))
    new = load_run_samples(make_run(tmp_path / "new", 2, n=200, scale_ms=100.0))
    by_name = {m.name: m for m in compare(base, new).metrics}
    assert by_name["latency_p99"].verdict == "inconclusive"
    assert "needs at least 500" in by_name["latency_p99"].reason
    assert by_name["latency_p50"].verdict == "regressed"


def test_a_run_too_short_is_inconclusive(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, n=50))  # 0.5 s
    new = load_run_samples(make_run(tmp_path / "new", 2, n=50, scale_ms=200.0))
    assert {m.verdict for m in compare(base, new).metrics} == {"inconclusive"}


def test_tolerance_absorbs_a_small_significant_change(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, n=3000))
    new = load_run_samples(make_run(tmp_path / "new", 1, n=3000, scale_ms=55.0))  # +10%
    strict = {m.name: m for m in compare(base, new).metrics}
    assert strict["latency_p50"].verdict == "regressed"
    loose = {m.name: m for m in compare(base, new, tolerances={"latency": 0.15}).metrics}
    assert loose["latency_p50"].verdict == "no change"
    assert tolerance_for("latency_p99[chat]", {"latency_p99": 0.1}) == 0.1
    assert tolerance_for("ttft_p50", {"latency": 0.1}) == DEFAULT_TOLERANCE == 0.05


def test_a_significant_change_below_the_default_tolerance_is_no_change(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, n=3000))
    new = load_run_samples(make_run(tmp_path / "new", 1, n=3000, scale_ms=51.5))  # +3%
    default = {m.name: m for m in compare(base, new).metrics}
    assert default["latency_p50"].verdict == "no change"
    relative = default["latency_p50"].relative
    assert relative is not None and 0 < relative < DEFAULT_TOLERANCE


def test_different_protocols_are_refused(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, n=30))
    new = load_run_samples(make_run(tmp_path / "new", 2, n=30, protocol="http"))
    with pytest.raises(RunDirError, match="different protocols"):
        compare(base, new)


def test_band_mask_takes_the_top_two_percent_for_p99() -> None:
    mask = band_mask(np.arange(1000, dtype=np.float64), 99)
    assert mask.sum() == 21 and mask[-1] and not mask[978]


def test_false_alarm_rate_on_pairs_from_one_distribution(tmp_path: Path) -> None:
    """40 pairs of runs drawn from the same distribution: a comparison with any metric not
    'no change'/'inconclusive' is a false alarm. Family-wise target 5%; measured: 0/40 with
    these seeds (the Bonferroni correction over ~10 metrics makes it conservative)."""
    alarms = 0
    for pair in range(40):
        base = load_run_samples(make_run(tmp_path / f"b{pair}", 1000 + pair))
        new = load_run_samples(make_run(tmp_path / f"n{pair}", 2000 + pair))
        result = compare(base, new, seed=pair)
        if any(m.verdict in ("improved", "regressed") for m in result.metrics):
            alarms += 1
    assert alarms / 40 <= 0.10, f"false-alarm rate {alarms}/40"


def test_a_baseline_whose_queue_grew_throughout_still_counts_as_improved(tmp_path: Path) -> None:
    """An overloaded base run's latency climbs from ~0.2 s to ~30 s; its block bootstrap is
    wide in milliseconds (half the blocks are fast), but a hundredfold change is no noise:
    intervals of the ratio keep it significant."""
    rng = np.random.default_rng(7)
    run_dir = RunDir.create(tmp_path / "base")
    run_dir.write_meta({"name": "base", "protocol": "openai-chat", "status": "complete"})
    writer = run_dir.record_writer()
    for i in range(1000):
        intended = i * 10 * MS
        latency_ns = int((200 + 30 * i) * float(rng.lognormal(0, 0.1)) * MS)
        writer.add(
            RequestRecord(
                seq=i, worker=0, action="chat", intended_at=intended, sent_at=intended,
                first_token_at=intended + latency_ns // 2, done_at=intended + latency_ns,
                outcome=Outcome.OK, output_tokens=4, itl_ms=(1.0, 1.2, 0.9),
            )
        )  # fmt: skip
    writer.close()
    base = load_run_samples(tmp_path / "base")
    new = load_run_samples(make_run(tmp_path / "new", 2, scale_ms=170.0, error_p=0))
    by_name = {m.name: m for m in compare(base, new, seed=1).metrics}
    for name in ("latency_p50", "latency_p90", "ttft_p50"):
        assert by_name[name].verdict == "improved", by_name[name]
        assert by_name[name].ci_high is not None and by_name[name].ci_high < 0


def with_thresholds(path: Path, *thresholds: str) -> Path:
    (path / "scenario.yaml").write_text(
        "thresholds:\n" + "".join(f"  - {t!r}\n" for t in thresholds), encoding="utf-8"
    )
    return path


def test_goodput_is_compared_when_the_runs_set_objectives(tmp_path: Path) -> None:
    goal = "p99(latency) < 80ms"
    base = with_thresholds(make_run(tmp_path / "base", 1, error_p=0), goal)
    slower = with_thresholds(make_run(tmp_path / "new", 2, scale_ms=90.0, error_p=0), goal)
    result = compare(load_run_samples(base), load_run_samples(slower), seed=2)
    goodput = {m.name: m for m in result.metrics}["goodput"]
    assert goodput.verdict == "regressed", goodput
    assert goodput.base is not None and goodput.new is not None
    assert goodput.new < goodput.base * 0.7  # most slower answers miss 80 ms
    other = with_thresholds(make_run(tmp_path / "other", 3, error_p=0), "p50(ttft) < 5ms")
    mixed = {m.name: m for m in compare(load_run_samples(base), load_run_samples(other)).metrics}
    assert mixed["goodput"].verdict == "inconclusive"
    assert "different per-request objectives" in mixed["goodput"].reason
    plain = compare(load_run_samples(make_run(tmp_path / "p1", 4)), load_run_samples(base))
    assert "goodput" in {m.name for m in plain.metrics}  # one run has objectives
    none = compare(
        load_run_samples(make_run(tmp_path / "p2", 5)),
        load_run_samples(make_run(tmp_path / "p3", 6)),
    )
    assert "goodput" not in {m.name for m in none.metrics}
