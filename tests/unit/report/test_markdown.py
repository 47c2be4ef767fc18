"""Markdown for pull-request comments: summary and comparison."""

from __future__ import annotations

from pathlib import Path

from agentload.analysis.compare import compare
from agentload.analysis.compare_samples import load_run_samples
from agentload.analysis.summary import summarize
from agentload.records.rundir import RunDir
from agentload.report.markdown import cell, compare_markdown, summary_markdown
from tests.unit.analysis.test_compare import make_run


def test_summary_markdown_has_counts_latency_table_and_thresholds(tmp_path: Path) -> None:
    path = make_run(tmp_path / "run", 1, n=300)
    data = summarize(RunDir(path).iter_records(), target_rate_per_s=100.0).to_dict()
    data["thresholds"] = [{"expr": "p99(latency) < 1s", "ok": True, "observed": 80.5}]
    text = summary_markdown(data, title="my|run", status="complete")
    assert text.startswith("### agentload: my\\|run (complete)")
    assert "**300** requests" in text and "achieved" in text
    assert "| latency (from intended) | 29" in text  # n column right after the label
    assert "**Thresholds**" in text and "✅ pass" in text
    assert "Errors: http_5xx" in text


def test_cells_cannot_break_the_table() -> None:
    assert cell("a|b\nc") == "a\\|b c"


def test_compare_markdown_lists_every_metric_and_the_attribution(tmp_path: Path) -> None:
    base = load_run_samples(make_run(tmp_path / "base", 1, queue_ms=40.0))
    new = load_run_samples(make_run(tmp_path / "new", 2))
    text = compare_markdown(compare(base, new))
    for name in ("achieved_rate", "error_rate", "latency_p99", "ttft_p50", "itl_p99"):
        assert f"| {name} |" in text
    assert "🟢 improved" in text
    assert "latency p99 -" in text and "of which queue" in text
