"""Pure parts of the host collector, counter rates, and the telemetry section's validation."""

from __future__ import annotations

import pytest
import yaml

from agentload.config import parse_scenario
from agentload.errors import ConfigError
from agentload.telemetry.base import Notes, Rates
from agentload.telemetry.host import parse_snmp, series_name

SNMP = """\
Ip: Forwarding DefaultTTL
Ip: 2 64
Tcp: RtoAlgorithm ActiveOpens RetransSegs InErrs
Tcp: 1 34542 512 0
Udp: InDatagrams
Udp: 7
"""


def test_parse_snmp() -> None:
    tables = parse_snmp(SNMP)
    assert tables["Tcp"]["RetransSegs"] == 512 and tables["Udp"]["InDatagrams"] == 7
    assert parse_snmp("Tcp: A B\nUdp: 1 2\n") == {}  # a header and a row of another table


def test_series_names_are_safe() -> None:
    assert series_name("agentload agent serve") == "proc.agentload_agent_serve"
    assert series_name(1234) == "proc.1234"
    assert series_name("///") == "proc.process"


def test_rates_skip_the_first_reading_and_resets() -> None:
    rates = Rates()
    assert rates.rate("x", 10, 0.0) is None
    assert rates.rate("x", 30, 2.0) == 10.0
    assert rates.rate("x", 5, 3.0) is None  # went down: a reset
    assert rates.rate("x", 15, 4.0) == 10.0


def test_notes_said_once_per_key() -> None:
    notes = Notes()
    notes.add("a: first reason", key="a")
    notes.add("a: second reason", key="a")
    notes.add("b")
    notes.add("b")
    assert notes.lines == ["a: first reason", "b"]


BASE = """\
target: {base_url: "http://127.0.0.1:8000"}
load: {model: closed, users: 1, requests: 1}
request: {prompt_tokens: 8, max_tokens: 4}
"""


def test_defaults_and_a_full_section() -> None:
    default = parse_scenario(BASE, source="s.yaml").telemetry
    assert default.interval == 1.0 and default.generator is not None
    assert default.host is None and default.gpu is None and default.prometheus == ()
    text = BASE + yaml.safe_dump(
        {
            "telemetry": {
                "interval": "250ms",
                "host": {"processes": ["vllm", 1234]},
                "gpu": {},
                "prometheus": [{"url": "http://127.0.0.1:8000/metrics", "series": ["a_total"]}],
                "redis": {"url": "redis://127.0.0.1:6379/0"},
                "generator": None,
            }
        }
    )
    config = parse_scenario(text, source="s.yaml").telemetry
    assert config.interval == 0.25 and config.host is not None
    assert config.host.processes == ("vllm", 1234) and config.generator is None


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"interval": "1ms"}, "telemetry.interval"),
        ({"prometheus": [{"url": "ftp://x/metrics"}]}, "telemetry.prometheus[0].url"),
        ({"redis": {"url": "http://x"}}, "telemetry.redis.url"),
        ({"hots": {}}, "telemetry.hots"),
    ],
)
def test_bad_fields_name_file_line_and_field(section: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario(BASE + yaml.safe_dump({"telemetry": section}), source="s.yaml")
    assert "s.yaml:" in str(info.value) and expected in str(info.value)


def test_client_phases_with_the_fast_transport_is_a_config_error() -> None:
    text = BASE.replace(
        'target: {base_url: "http://127.0.0.1:8000"}',
        'target: {base_url: "http://127.0.0.1:8000", client_phases: true, transport: fast}',
    )
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, source="s.yaml")
    assert "s.yaml:1: target: client_phases are timed by the aiohttp transport" in str(info.value)
