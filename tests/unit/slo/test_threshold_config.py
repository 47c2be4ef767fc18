"""Thresholds and the target table in a scenario file: shapes, expansion, file:line errors."""

from __future__ import annotations

import pytest

from agentload.config import parse_scenario
from agentload.config.thresholds import SloSection, all_thresholds
from agentload.errors import ConfigError

BASE = """\
target:
  base_url: http://127.0.0.1:8000
load: {rate: 10/s, duration: 5s}
request: {prompt_tokens: 10}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, source="s.yaml")
    return [p.render() for p in info.value.problems]


def test_expressions_mappings_and_targets_load() -> None:
    scenario = parse_scenario(
        BASE
        + """\
thresholds:
  - p99(latency) < 2s
  - expr: p99(schedule_lag) < 5ms
    abort_on_fail: true
    delay: 10s
targets:
  login: {rate: 1000/s, p99: 200ms, error_rate: 0.1%}
  "product page": {rate: 5000/s, p95: 300ms, error_rate: 0.005}
""",
        source="s.yaml",
    )
    first, second = scenario.thresholds
    assert first.expr == "p99(latency) < 2s" and not first.abort_on_fail and first.delay == 0
    assert second.abort_on_fail and second.delay == 10.0
    exprs = [s.expr for s in all_thresholds(scenario.thresholds, scenario.targets)]
    assert exprs == [
        "p99(latency) < 2s",
        "p99(schedule_lag) < 5ms",
        "rate(ok{action=login}) >= 950/s",
        "p99(latency{action=login}) < 200ms",
        "error_rate{action=login} < 0.1%",
        'rate(ok{action="product page"}) >= 4750/s',
        'p95(latency{action="product page"}) < 300ms',
        'error_rate{action="product page"} < 0.5%',
    ]


def test_a_bad_expression_names_file_line_and_column() -> None:
    text = BASE + "thresholds:\n  - p99(latency) < 2s\n  - p99(latency{action=a) < 3s\n"
    assert problems(text) == [
        "s.yaml:7: thresholds[1]: column 21: expected ',' in 'p99(latency{action=a) < 3s'"
    ]


def test_a_bad_expression_inside_a_mapping_and_bad_targets() -> None:
    text = (
        BASE
        + """\
thresholds:
  - expr: p99(latency) < 2
    abort_on_fail: true
  - {expr: "error_rate < 1%", delay: 5s}
targets:
  login: {p98: 1s, error_rate: lots}
"""
    )
    found = problems(text)
    assert found[0].startswith("s.yaml:6: thresholds[0].expr: column 16: a duration needs a unit")
    assert "s.yaml:8: thresholds[1]: delay applies to abort_on_fail: true only" in found
    assert any(p.startswith("s.yaml:10: targets.login.p98: unknown field") for p in found)
    assert any("targets.login.error_rate" in p and "not a ratio" in p for p in found)


def test_the_stored_scenario_reads_back_the_same_thresholds() -> None:
    scenario = parse_scenario(
        BASE
        + """\
thresholds: [{expr: "error_rate < 1%", abort_on_fail: true, delay: 2s}]
targets: {login: {rate: 20/s, p99: 0.2s, error_rate: 1%}}
""",
        source="s.yaml",
    )
    stored = scenario.model_dump(mode="json")
    assert SloSection.model_validate(stored).all() == all_thresholds(
        scenario.thresholds, scenario.targets
    )
    assert SloSection.model_validate({}).all() == ()


def test_target_limits_read_as_the_table_wrote_them() -> None:
    from agentload.config.thresholds import ActionTargets
    from agentload.slo.grammar import parse_threshold

    row = ActionTargets.model_validate(
        {"rate": "6/s", "p99": "2s", "p50": "1.1s", "error_rate": "1%"}
    )
    specs = row.expand("order")
    assert [s.expr for s in specs] == [
        "rate(ok{action=order}) >= 5.7/s",  # 0.95 x 6, without float noise
        "p50(latency{action=order}) < 1.1s",
        "p99(latency{action=order}) < 2s",
        "error_rate{action=order} < 1%",
    ]
    assert [parse_threshold(s.expr).limit for s in specs] == pytest.approx([5.7, 1100, 2000, 0.01])
