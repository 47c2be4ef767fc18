"""Scenario loading: valid files load; every mistake is one clear Problem with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.config import ClosedLoad, OpenLoad, load_scenario, parse_scenario
from agentload.errors import ConfigError

GOOD = """\
name: t
seed: 3
target:
  base_url: http://127.0.0.1:8000
  headers:
    Authorization: "Bearer ${AGENTLOAD_TEST_TOKEN}"
load:
  arrival: constant
  rate: 600/m
  duration: 2m
request:
  prompt_tokens: 100
  max_tokens: 16
"""


def problems(text: str, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, source="s.yaml", overrides=overrides)
    return [p.render() for p in info.value.problems]


def test_a_good_scenario_loads_with_units_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLOAD_TEST_TOKEN", "sekret")
    scenario = parse_scenario(GOOD, source="s.yaml")
    assert isinstance(scenario.load, OpenLoad)
    assert scenario.load.rate == pytest.approx(10.0)
    assert scenario.load.duration == 120.0
    assert scenario.target.headers["Authorization"] == "Bearer sekret"
    assert scenario.request.protocol == "openai-chat"


def test_missing_env_var_names_it_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTLOAD_TEST_TOKEN", raising=False)
    assert problems(GOOD) == [
        "s.yaml:6: target.headers.Authorization: environment variable AGENTLOAD_TEST_TOKEN "
        "is not set; export it or use --set"
    ]


def test_each_mistake_is_one_line_with_line_field_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLOAD_TEST_TOKEN", "x")
    text = GOOD.replace("arrival: constant", "arrival: uniform").replace(
        "max_tokens: 16", "max_tokens: -1\n  temperature: 2"
    )
    assert problems(text) == [
        "s.yaml:8: load.arrival: input should be 'constant', 'poisson' or 'gamma' (with rate), "
        "or a mapping with a kind: cox, profile, ramp, step, spike, sine, hold or trace",
        "s.yaml:13: request.max_tokens: input should be greater than 0",
        "s.yaml:14: request.temperature: unknown field; allowed here: protocol, path, model, "
        "messages, prompt_tokens, max_tokens, stream, extra_body, input_tokens, output_tokens, "
        "dataset, sla",
    ]


def test_overrides_apply_and_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLOAD_TEST_TOKEN", "x")
    scenario = parse_scenario(
        GOOD, source="s.yaml", overrides=("load.rate=50/s", "seed=9", "load.duration=5s")
    )
    assert scenario.seed == 9 and isinstance(scenario.load, OpenLoad)
    assert scenario.load.rate == 50 and scenario.load.duration == 5
    assert problems(GOOD, ("load.rate=-3",)) == [
        "--set load.rate=-3: load.rate: a rate cannot be negative"
    ]
    assert problems(GOOD, ("nonsense",)) == ["--set: 'nonsense': write it as path.to.field=value"]


def test_closed_model_and_think_time() -> None:
    scenario = parse_scenario(
        "target: {base_url: 'http://h'}\nload: {model: closed, users: 4, think_time: 250ms,"
        " requests: 10}\nrequest: {messages: [{role: user, content: hi}]}\n",
        source="s.yaml",
    )
    assert isinstance(scenario.load, ClosedLoad)
    assert scenario.load.think_time.min == scenario.load.think_time.max == 0.25


def test_duration_or_requests_is_required_and_prompt_is_exactly_one() -> None:
    text = "target: {base_url: 'http://h'}\nload: {rate: 1}\nrequest: {max_tokens: 3}\n"
    assert problems(text) == [
        "s.yaml:2: load: give a duration (e.g. 30s) or a number of requests, or both",
        "s.yaml:3: request: give exactly one of messages, prompt_tokens, input_tokens or dataset",
    ]


def test_http_request_cannot_go_to_a_chat_target() -> None:
    text = (
        "target: {base_url: 'http://h', protocol: openai-chat}\nload: {rate: 1, requests: 1}\n"
        "request: {protocol: http, path: /x}\n"
    )
    assert any("request is for 'http'" in p for p in problems(text))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "s.yaml:1: file is empty"),
        ("[1, 2]", "s.yaml:1: a scenario must be a mapping"),
        ("a: [1, 2", "s.yaml:1: invalid YAML"),
        ("a: 1\nb: 2\n  c: 3\n", "s.yaml:3: invalid YAML: mapping values are not allowed here"),
    ],
)
def test_structural_errors(content: str, expected: str) -> None:
    assert problems(content)[0].startswith(expected)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_scenario(binary)
    with pytest.raises(ConfigError, match="is a directory"):
        load_scenario(tmp_path)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(
        st.sampled_from(["name", "seed", "target", "load", "request", "extra"]), yaml_values
    )
)
def test_random_documents_give_problems_never_other_exceptions(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data)
    try:
        parse_scenario(text, source="s.yaml")
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "\n" not in problem.render()


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_random_text_gives_problems_never_other_exceptions(text: str) -> None:
    try:
        parse_scenario(text, source="s.yaml")
    except ConfigError as exc:
        assert exc.problems


@pytest.mark.parametrize("model", ["open", "sessions"])
@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ("arrival: poisson, duration: 5s", "a poisson arrival needs a rate, e.g. rate: "),
        ("arrival: poisson, rate: 5, burstiness: 0.5, duration: 5s", "burstiness applies to"),
        (
            "arrival: {kind: ramp, from: 1, to: 5, duration: 5s}, rate: 5",
            "give the rate inside arrival",
        ),
        ("arrival: {kind: wobble}, duration: 5s", "load: arrival: "),
    ],
)
def test_arrival_mistakes_read_the_same_for_requests_and_sessions(
    model: str, load: str, expected: str
) -> None:
    text = f"target: {{base_url: 'http://h'}}\nload: {{model: {model}, {load}}}\n"
    text += "request: {prompt_tokens: 3}\n"
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("s.yaml:2: load"), found
    assert expected in found[0], found
