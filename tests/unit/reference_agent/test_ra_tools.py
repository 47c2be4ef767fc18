"""Tools: seeded lognormal latency, error and slow rates, deterministic results, safe arithmetic."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.reference_agent.settings import AgentSettings, ToolSettings
from agentload.reference_agent.tools import ToolBox, evaluate, tool_result

N = 4000


def box(seed: int = 1, **tool: float) -> ToolBox:
    return ToolBox([ToolSettings(name="search", **tool)], seed=seed)


def test_latency_is_lognormal_around_the_median() -> None:
    tools = box(latency_ms_median=100, latency_sigma=0.5)
    latencies = [tools.draw("search").latency_ms for _ in range(N)]
    assert statistics.median(latencies) == pytest.approx(100, rel=0.05)
    logs = [math.log(ms) for ms in latencies]
    assert statistics.stdev(logs) == pytest.approx(0.5, rel=0.05)


def test_sigma_zero_always_takes_the_median() -> None:
    tools = box(latency_ms_median=40, latency_sigma=0)
    assert {tools.draw("search").latency_ms for _ in range(50)} == {40}


def test_error_and_slow_rates_and_the_slow_factor() -> None:
    tools = box(latency_ms_median=10, latency_sigma=0.2, error_rate=0.2, slow_rate=0.1)
    draws = [tools.draw("search") for _ in range(N)]
    assert sum(d.failed for d in draws) / N == pytest.approx(0.2, abs=0.03)
    assert sum(d.slow for d in draws) / N == pytest.approx(0.1, abs=0.03)
    slow = statistics.median(d.latency_ms for d in draws if d.slow)
    assert slow == pytest.approx(100, rel=0.1)  # slow_factor 10 by default


def test_draws_are_reproducible_from_the_seed() -> None:
    def sequence(seed: int) -> list[float]:
        tools = box(seed, latency_ms_median=50)
        return [tools.draw("search").latency_ms for _ in range(20)]

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)
    # A call with its own seed does not depend on how many calls came before.
    early, late = box(3), box(3)
    for _ in range(5):
        late.draw("search")
    assert early.draw("search", seed=9) == late.draw("search", seed=9)


def test_running_a_tool_sleeps_its_latency_and_returns_its_result() -> None:
    tools = box(latency_ms_median=30, latency_sigma=0)
    start = time.perf_counter()
    outcome = asyncio.run(tools.run("search", {"query": "cheap flights"}))
    assert (time.perf_counter() - start) * 1000 >= 29
    assert outcome.ok and outcome.latency_ms == 30 and not outcome.slow
    assert outcome.content.count("cheap flights") == 3


def test_an_injected_failure_still_takes_time_and_says_error() -> None:
    outcome = asyncio.run(box(latency_ms_median=5, error_rate=1).run("search", {"query": "x"}))
    assert not outcome.ok and outcome.latency_ms > 0
    assert outcome.content.startswith("error: search failed")


def test_an_unknown_tool_fails_at_once() -> None:
    outcome = asyncio.run(box().run("weather", {}))
    assert (outcome.ok, outcome.latency_ms) == (False, 0.0)
    assert outcome.content.startswith("error: no tool named 'weather'")


def test_results_are_short_deterministic_texts() -> None:
    ok, order = tool_result("lookup_order", {"order_id": "12345"})
    assert ok and order.startswith("order #12345: ")
    assert tool_result("lookup_order", {"order_id": "12345"}) == (ok, order)
    assert tool_result("lookup_order", {"order_id": "abc"})[0] is False
    assert tool_result("calculator", {"expression": "12 * (3 + 4)"}) == (True, "12 * (3 + 4) = 84")
    assert tool_result("calculator", {"expression": "1/0"})[0] is False
    assert tool_result("custom", {"q": "x"}) == (True, 'custom: done ({"q": "x"})')


def test_from_settings_uses_the_configured_tools_and_seed() -> None:
    settings = AgentSettings(seed=5)
    tools = ToolBox.from_settings(settings)
    assert tools.names == ("search", "lookup_order", "calculator")
    assert "search" in tools and "weather" not in tools
    with pytest.raises(ValueError, match="configured twice"):
        ToolBox([ToolSettings(name="a"), ToolSettings(name="a")])


@pytest.mark.parametrize(
    "expression", ["2**10", "__import__('os')", "a + 1", "f(1)", "[1]", "", "1 +", "True + 1"]
)
def test_the_calculator_evaluates_arithmetic_only(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate(expression)


@given(
    st.integers(-(10**6), 10**6),
    st.sampled_from(["+", "-", "*", "//", "%"]),
    st.integers(1, 10**6),
)
def test_the_calculator_agrees_with_python_on_integers(a: int, op: str, b: int) -> None:
    expected = {"+": a + b, "-": a - b, "*": a * b, "//": a // b, "%": a % b}[op]
    assert evaluate(f"{a} {op} ({b})") == expected


@given(st.text(max_size=300))
def test_the_calculator_only_ever_raises_value_errors(text: str) -> None:
    with contextlib.suppress(ValueError, ZeroDivisionError, OverflowError):
        evaluate(text)
