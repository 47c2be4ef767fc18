"""The load side against the real reference agent on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentload import api
from agentload.config import Scenario, parse_scenario
from agentload.records.record import Outcome, RequestRecord
from agentload.records.rundir import RunDir


def chat_scenario(url: str, load: dict[str, Any], **request: Any) -> Scenario:
    data = {
        "name": "ref",
        "seed": 5,
        "target": {"base_url": url, "protocol": "openai-chat"},
        "load": load,
        "request": {"prompt_tokens": 64, "max_tokens": 12, **request},
    }
    return parse_scenario(yaml.safe_dump(data), source="test.yaml")


def records(result: api.RunResult) -> list[RequestRecord]:
    return list(RunDir.open(result.run_dir).iter_records())


def test_streaming_ttft_itl_and_tokens(fast_agent: str, tmp_path: Path) -> None:
    result = api.run(
        chat_scenario(fast_agent, {"arrival": "poisson", "rate": "20/s", "requests": 30}),
        out_dir=tmp_path / "run",
    )
    recs = records(result)
    assert len(recs) == 30 and all(r.outcome is Outcome.OK for r in recs)
    for rec in recs:
        assert rec.first_token_at is not None and rec.sent_at is not None
        assert rec.intended_at <= rec.sent_at < rec.first_token_at < rec.done_at
        assert rec.ttft_ms is not None and rec.latency_ms is not None
        assert rec.ttft_ms < rec.latency_ms
        assert rec.output_tokens == 12 and not rec.tokens_approx  # from the server's usage
        assert rec.input_tokens is not None and rec.input_tokens > 30
        assert rec.chunks == 12  # the role-only chunk is not a token
        assert len(rec.itl_ms) == 11
        # the phases come in a final SSE comment (headers leave before they are known)
        assert {"queue", "prefill", "decode", "total"} <= set(rec.phases_ms)
    summary = result.summary.to_dict()
    assert summary["tokens"]["output"] == 30 * 12
    assert summary["metrics"]["ttft_ms"]["p50"] < summary["metrics"]["latency_ms"]["p50"]


def test_non_streaming_carries_usage_and_server_timing(fast_agent: str, tmp_path: Path) -> None:
    result = api.run(
        chat_scenario(
            fast_agent, {"arrival": "constant", "rate": "20/s", "requests": 5}, stream=False
        ),
        out_dir=tmp_path / "run",
    )
    recs = records(result)
    assert all(r.outcome is Outcome.OK for r in recs)
    for rec in recs:
        assert rec.output_tokens == 12 and not rec.tokens_approx
        assert {"queue", "prefill", "decode", "total"} <= set(rec.phases_ms)
        assert rec.itl_ms == ()


def test_the_engine_queues_when_the_batch_is_full(tmp_path: Path) -> None:
    # With a batch of 1, concurrent requests wait for each other inside the agent: the
    # server-reported queue time and the TTFT grow with load — the agent's truth, measured.
    from tests.conftest import running_reference_agent

    with running_reference_agent(tmp_path, "--speed", "10", "--max-batch", "1") as url:
        result = api.run(
            chat_scenario(url, {"model": "closed", "users": 4, "requests": 12}, stream=False),
            out_dir=tmp_path / "run",
        )
    recs = records(result)
    assert all(r.outcome is Outcome.OK for r in recs)
    queued = [r.phases_ms["queue"] for r in recs]
    assert max(queued) > 5 * min(queued) + 1.0
