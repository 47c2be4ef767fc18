"""``/metrics`` parses as Prometheus text and moves under load."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.timeout(60)
P = "agentload_agent_"


def scrape(url: str) -> dict[str, Any]:
    """Sample name + sorted labels → value."""
    resp = httpx.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    samples: dict[str, Any] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            key = sample.name + "".join(f",{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[key] = sample.value
    return samples


def value(samples: dict[str, Any], name: str, **labels: str) -> float:
    key = P + name + "".join(f",{k}={v}" for k, v in sorted(labels.items()))
    return float(samples.get(key, 0.0))


def test_metrics_move_under_load(fast_agent: str) -> None:
    before = scrape(fast_agent)
    for name in ("engine_queue_depth", "engine_running_batch", "engine_kv_cache_tokens"):
        assert P + name in before

    async def load() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=fast_agent, timeout=30) as http:
            body = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}],
                    "max_tokens": 300}  # fmt: skip
            calls = [asyncio.create_task(http.post("/v1/chat/completions", json=body))
                     for _ in range(12)]  # fmt: skip
            during: list[dict[str, Any]] = []
            await asyncio.sleep(0.1)
            during.append(await asyncio.to_thread(scrape, fast_agent))
            session = (await http.post("/v1/sessions")).json()["id"]
            turn = {"content": "What is 2+3?", "max_tokens": 5}
            assert (await http.post(f"/v1/sessions/{session}/messages", json=turn)).is_success
            assert all(r.status_code == 200 for r in await asyncio.gather(*calls))
            return during

    (during,) = asyncio.run(load())
    after = scrape(fast_agent)
    assert value(during, "engine_running_batch") >= 2
    assert value(during, "engine_kv_cache_tokens") > 0
    assert value(during, "requests_in_flight") >= 2
    tokens = value(after, "engine_tokens_generated_total") - value(
        before, "engine_tokens_generated_total"
    )
    assert tokens >= 12 * 300
    ok = dict(endpoint="/v1/chat/completions", method="POST", status="200")
    assert value(after, "requests_total", **ok) - value(before, "requests_total", **ok) == 12
    turns = value(after, "turns_total", outcome="ok") - value(before, "turns_total", outcome="ok")
    assert turns == 13
    for phase in ("queue", "prefill", "decode", "total"):
        assert value(after, "phase_seconds_count", phase=phase) > value(
            before, "phase_seconds_count", phase=phase
        )
    assert value(after, "store_latency_seconds_count", op="read") >= 1
    assert value(after, "store_latency_seconds_count", op="write") >= 1
    assert value(after, "tool_latency_seconds_count", tool="calculator", outcome="ok") >= 1
    assert value(after, "engine_running_batch") == 0  # everything finished
