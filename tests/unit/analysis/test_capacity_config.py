"""The capacity section of a scenario, and how the search sizes its steps from the budget."""

from __future__ import annotations

import pytest
import yaml

from agentload.analysis.capacity import SearchSettings
from agentload.capacity_runner import capacity_config, step_timing
from agentload.config import parse_scenario
from agentload.config.capacity import CapacityConfig
from agentload.errors import ConfigError

BASE = {
    "target": {"base_url": "http://127.0.0.1:9", "protocol": "http"},
    "load": {"model": "open", "rate": 1, "duration": 1},
    "request": {"path": "/"},
}


def parse(**extra: object):
    return parse_scenario(yaml.safe_dump({**BASE, **extra}), source="s.yaml")


def test_units_and_defaults() -> None:
    config = CapacityConfig.model_validate(
        {"start": "2/s", "max": "600/m", "resolution": "5%", "budget": "2m"}
    )
    assert (config.start, config.max, config.resolution, config.budget) == (2, 10, 0.05, 120)
    assert parse().capacity is None
    assert capacity_config(parse()).vary == "rate"
    closed = parse(load={"model": "closed", "users": 4, "duration": 1})
    assert capacity_config(closed).vary == "users" and capacity_config(closed).max == 256


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ({"start": 10, "max": 5}, "must be above start"),
        ({"vary": "users", "start": 1.5}, "users is a whole number"),
        ({"vary": "users"}, "needs load.model: closed"),
        ({"resolution": "150%"}, "resolution"),
        ({"speed": 2}, "speed"),
    ],
)
def test_bad_sections_name_the_field(capacity: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(capacity=capacity)
    assert message in str(info.value)


def test_steps_are_sized_from_the_budget() -> None:
    config = CapacityConfig()
    settings = SearchSettings(start=config.start, max=config.max, resolution=config.resolution)
    default = step_timing(config, settings, 300)
    assert 10 <= default.measure_s <= 20 and default.warmup_s == pytest.approx(
        0.2 * default.measure_s
    )
    assert step_timing(config, settings, 30).measure_s == 2.0  # the floor
    fixed = CapacityConfig(step_duration=5, warmup=1)
    timing = step_timing(fixed, settings, 300)
    assert (timing.measure_s, timing.warmup_s, timing.grace_s) == (5, 1, 1.25)
