"""A run without thresholds, end to end against the reference agent: the engine does not feed
the SLO tracker, yet summary.json's goodput is what its records give, and report.html's
series (read back as columns) count every record."""

from __future__ import annotations

from pathlib import Path

import yaml

from agentload import api
from agentload.analysis.goodput import GoodputCounter
from agentload.config import parse_scenario
from agentload.records.record import Outcome
from agentload.records.rundir import RunDir
from agentload.report.html import HTML_FILE
from agentload.report.html_series import SeriesBuilder, series_of


def test_goodput_and_report_series_of_a_streaming_sessions_run(
    fast_agent: str, tmp_path: Path
) -> None:
    data = {
        "name": "no-thresholds",
        "seed": 9,
        "target": {"base_url": fast_agent, "protocol": "openai-chat"},
        "load": {
            "model": "sessions",
            "arrival": "poisson",
            "rate": "10/s",
            "sessions": 6,
            "turns": 3,
            "think_time": {"min": "10ms", "max": "30ms"},
        },
        "request": {"prompt_tokens": 30, "max_tokens": 8},
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="s.yaml"), out_dir=tmp_path / "r")
    run_dir = RunDir.open(result.run_dir)
    records = list(run_dir.iter_records())
    assert len(records) == 18 and any(r.itl_ms for r in records)
    counter = GoodputCounter(())
    for record in records:
        counter.add(record)
    summary = result.summary
    want = counter.result(summary.duration_s, summary.per_action).to_dict()
    assert summary.goodput is not None and summary.goodput.to_dict() == want
    assert want["sessions"]["count"] == 6
    series, read = series_of(run_dir)
    assert read == 18 and sum(series.sent) == 18
    assert sum(series.ok) == sum(r.outcome is Outcome.OK for r in records)
    by_record = SeriesBuilder().add_all(records).build()
    assert series.ok == by_record.ok and list(series.itl_samples_ms) == list(
        by_record.itl_samples_ms
    )
    streamed = [r for r in records if r.outcome is Outcome.OK and r.first_token_at is not None]
    assert len(series.ttft_samples_ms) == len(streamed)
    assert "ttft-itl" in (result.run_dir / HTML_FILE).read_text(encoding="utf-8")
