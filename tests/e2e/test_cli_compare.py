"""``agentload compare`` on real runs of the reference agent (baseline vs optimized profile),
plus its exit codes. Bounded: each run is 3 s of a closed model with 16 users."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentload import api
from agentload.analysis.compare import compare
from agentload.analysis.compare_samples import OUTSIDE_SERVER, load_run_samples
from agentload.config.models import Scenario
from tests.conftest import running_reference_agent
from tests.e2e.test_cli import agentload, assert_no_traceback
from tests.unit.analysis.test_compare import make_run


def scenario(url: str, seed: int, duration_s: float = 3.0) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "cmp",
            "seed": seed,
            "target": {"base_url": url, "protocol": "openai-chat"},
            "load": {
                "model": "closed",
                "users": 16,
                "think_time": {"min": 0, "max": 0},
                "duration": duration_s,
            },
            "request": {"prompt_tokens": 200, "max_tokens": 32, "stream": True},
        }
    )


@pytest.fixture(scope="module")
def profile_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Baseline and optimized at --speed 100 (enough requests for a p99 in 3 s), and two
    seeds of one configuration at --speed 10 after a warm-up run (a fresh agent's first
    seconds are slower, which is a real difference, not noise)."""
    tmp = tmp_path_factory.mktemp("profiles")
    runs = {}
    for profile in ("baseline", "optimized"):
        with running_reference_agent(tmp / profile, "--speed", "100", "--profile", profile) as url:
            runs[profile] = api.run(scenario(url, 1), out_dir=tmp / f"run-{profile}").run_dir
    with running_reference_agent(tmp / "same", "--speed", "10") as url:
        api.run(scenario(url, 0, duration_s=1.0), out_dir=tmp / "warm-up")
        for seed in (1, 2):
            runs[f"seed-{seed}"] = api.run(
                scenario(url, seed), out_dir=tmp / f"seed-{seed}"
            ).run_dir
    return runs


@pytest.mark.slow
def test_optimized_profile_is_a_significant_p99_improvement(profile_runs: dict[str, Path]) -> None:
    result = compare(
        load_run_samples(profile_runs["baseline"]), load_run_samples(profile_runs["optimized"])
    )
    by_name = {m.name: m for m in result.metrics}
    # The optimized profile cuts median and p90 latency and TTFT by half or more, which
    # survives the between-run widening of the intervals even on a busy host; its p99 and
    # throughput gains are smaller than this host's run-to-run swings in 3 s runs (and a
    # p99 may lack the 500 samples it needs), so they only must not read as regressions.
    for name in ("latency_p50", "latency_p90", "ttft_p50"):
        assert by_name[name].verdict == "improved", by_name[name]
    for name in ("latency_p99", "ok_rate", "achieved_rate"):
        assert by_name[name].verdict != "regressed", by_name[name]
    # Baseline requests wait for the server's one-at-a-time lock before its Server-Timing
    # phases start, so that queueing shows up as time outside the server's phases.
    top = result.attribution["latency_p99"][0]
    assert top.phase in (OUTSIDE_SERVER, "queue") and (top.share or 0) > 0.5


@pytest.mark.slow
def test_same_configuration_with_another_seed_is_no_significant_change(
    profile_runs: dict[str, Path],
) -> None:
    proc = agentload(
        "compare",
        str(profile_runs["seed-1"]),
        str(profile_runs["seed-2"]),
        "--fail-on-regression",
        "--tolerance",
        "latency=10%",
        # Two real runs of one configuration on a shared 2-core machine (agent and load in
        # the same box) differ in millisecond-scale TTFT/ITL by up to ~30%: between-run
        # variance that within-run resampling cannot see. Known limitation of compare; this
        # test gates latency and rates only, and keeps TTFT/ITL to gross regressions.
        "--tolerance",
        "ttft=60%",
        "--tolerance",
        "itl=60%",
        "--tolerance",
        "achieved_rate=10%",
        "--tolerance",
        "ok_rate=10%",
    )
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_fail_on_regression_exits_1_and_writes_md_and_html(tmp_path: Path) -> None:
    base = make_run(tmp_path / "base", 1)
    new = make_run(tmp_path / "new", 2, queue_ms=40.0)
    md, html = tmp_path / "c.md", tmp_path / "c.html"
    proc = agentload(
        "compare",
        str(base),
        str(new),
        "--fail-on-regression",
        "--md-to",
        str(md),
        "--html-to",
        str(html),
    )
    assert proc.returncode == 1, proc.stderr
    assert "significant regression: latency_p50" in proc.stderr
    assert "regressed" in proc.stdout
    assert "🔴 regressed" in md.read_text()
    page = html.read_text()
    assert 'id="plot-cmp-latency-spectrum"' in page and 'id="plot-cmp-latency-time"' in page
    assert agentload("compare", str(base), str(new)).returncode == 0  # without the flag
    loose = agentload(
        "compare",
        str(base),
        str(new),
        "--fail-on-regression",
        "--tolerance",
        "latency=1000%",
        "--tolerance",
        "ttft=1000%",
    )
    assert loose.returncode == 0, loose.stdout


def test_incompatible_or_missing_runs_are_one_line_errors(tmp_path: Path) -> None:
    base = make_run(tmp_path / "base", 1, n=30)
    other = make_run(tmp_path / "other", 2, n=30, protocol="http")
    for args in ((str(base), str(other)), (str(base), str(tmp_path / "missing"))):
        proc = agentload("compare", *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    bad = agentload("compare", str(base), str(base), "--tolerance", "p99")
    assert bad.returncode == 2 and "NAME=PERCENT" in bad.stderr
