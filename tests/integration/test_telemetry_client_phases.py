"""Client-side phases (DNS, connect, first byte) on records, from aiohttp's trace hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import Outcome
from agentload.records.rundir import RunDir

pytestmark = pytest.mark.timeout(60)


def run(url: str, tmp_path: Path, client_phases: bool) -> list[dict[str, float]]:
    data = {
        "name": "phases",
        "target": {"base_url": url, "protocol": "openai-chat", "client_phases": client_phases},
        "load": {"model": "closed", "users": 2, "requests": 12},
        "request": {"prompt_tokens": 16, "max_tokens": 4},
        "telemetry": {"generator": None},
    }
    scenario = parse_scenario(yaml.safe_dump(data), source="test.yaml")
    result = api.run(scenario, out_dir=tmp_path / "run")
    records = sorted(RunDir.open(result.run_dir).iter_records(), key=lambda r: r.sent_at or 0)
    assert len(records) == 12 and all(r.outcome is Outcome.OK for r in records)
    for record in records:
        first_byte = record.phases_ms.get("client.first_byte")
        assert first_byte is None or first_byte <= (record.ttfb_ms or 0) + 1.0
    return [r.phases_ms for r in records]


def test_new_connections_have_dns_and_connect_reused_ones_do_not(
    fast_agent: str, tmp_path: Path
) -> None:
    port = fast_agent.rsplit(":", 1)[1]
    phases = run(f"http://localhost:{port}", tmp_path, client_phases=True)
    assert all("client.first_byte" in p and p["client.first_byte"] > 0 for p in phases)
    connects = [p for p in phases if "client.connect" in p]
    # Two users: two connections opened, then kept alive for the other ten requests.
    assert 1 <= len(connects) <= 3
    assert all(0 <= p["client.connect"] < 1000 for p in connects)
    assert any("client.dns" in p for p in connects)  # "localhost" is resolved once
    assert all("client.dns" not in p for p in phases if "client.connect" not in p)
    # The server's own Server-Timing phases are still there beside them.
    assert any(not k.startswith("client.") for p in phases for k in p)


def test_off_by_default(fast_agent: str, tmp_path: Path) -> None:
    phases = run(fast_agent, tmp_path, client_phases=False)
    assert not any(k.startswith("client.") for p in phases for k in p)
