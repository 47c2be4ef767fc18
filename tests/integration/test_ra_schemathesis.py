"""Fuzz every operation of the served OpenAPI schema: no input may produce a 5xx.

The schema is the app's own (``create_app().openapi()``, what ``/openapi.json`` serves),
loaded at collection; the calls go to a real agent process on loopback. Bounded: the agent
runs at speed 1000 with answers capped at 16 tokens and 1 ms tools, and each operation gets
at most 25 examples, so the module takes seconds. Hypothesis' database is off so that runs
do not depend on earlier ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from agentload.reference_agent.app import create_app
from tests.conftest import running_reference_agent

pytestmark = pytest.mark.timeout(120)

# Valid and invalid inputs both. The coverage phase enumerates boundary cases at collection
# time (seconds per operation); the fuzzing phase alone, bounded below, keeps it instant.
_CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}}, "generation": {"mode": "all"}}
)
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=_CONFIG)


@pytest.fixture(scope="module")
def fuzzed_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzzed-agent")
    config: Path = tmp / "agent.yaml"
    config.write_text(
        "engine: {speed: 1000, output: {median_tokens: 8, max_tokens: 16}}\n"
        "tools:\n"
        + "".join(f"  - {{name: {n}, latency_ms_median: 1}}\n" for n in ("search", "calculator"))
    )
    with running_reference_agent(tmp, "--config", str(config)) as url:
        yield url


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, fuzzed_agent: str) -> None:
    case.call_and_validate(base_url=fuzzed_agent, checks=[not_a_server_error], timeout=10)
