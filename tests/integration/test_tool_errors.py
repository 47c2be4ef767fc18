"""A tool that fails fatally ends the agent's turn with a ``tool_error``: the reference
agent's ``faults.tool_error_rate``, seen by the session client through the SSE ``error``
event and through the JSON answer's error body."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import yaml
from scipy import stats

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from agentload.reference_agent.settings import ToolSettings
from agentload.reference_agent.tools import ToolBox
from tests.conftest import running_reference_agent


def run_turns(url: str, out: Path, sessions: int, *, stream: bool = True) -> Counter[str]:
    """One turn per session, each calling the calculator tool once."""
    data = {
        "name": out.name,
        "seed": 5,
        "target": {"base_url": url, "protocol": "agent-session"},
        "load": {
            "model": "sessions",
            "arrival": "constant",
            "rate": "60/s",
            "sessions": sessions,
            "turns": 1,
            "think_time": 0,
        },
        "request": {
            "content": "calculate 12 * (3 + 4)",
            "max_tokens": 4,
            "tools": ["calculator"],
            "stream": stream,
        },
    }
    result = api.run(parse_scenario(yaml.safe_dump(data), source="t.yaml"), out_dir=out)
    records = list(RunDir.open(result.run_dir).iter_records())
    assert len(records) == sessions
    assert {r.outcome for r in records} <= {Outcome.OK, Outcome.ERROR}
    return Counter(str(r.error_kind) if r.error_kind else "ok" for r in records)


def binomial_bounds(n: int, p: float) -> tuple[float, float]:
    low, high = stats.binom.interval(0.999, n, p)
    return float(low), float(high)


def test_a_fatal_tool_failure_rate_shows_as_that_share_of_tool_errors(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("faults: {tool_error_rate: 0.3}\n")
    with running_reference_agent(tmp_path / "a", "--speed", "10", "--config", str(config)) as url:
        streamed = run_turns(url, tmp_path / "sse", 150)
        answered = run_turns(url, tmp_path / "json", 80, stream=False)
    for counts, n in ((streamed, 150), (answered, 80)):
        assert set(counts) == {"ok", ErrorKind.TOOL_ERROR.value}, counts
        low, high = binomial_bounds(n, 0.3)
        assert low <= counts[ErrorKind.TOOL_ERROR.value] <= high, counts


def test_without_the_fault_no_turn_is_a_tool_error(fast_agent: str, tmp_path: Path) -> None:
    counts = run_turns(fast_agent, tmp_path / "clean", 40)
    assert counts == Counter({"ok": 40})


def test_fatal_tool_draws_are_seeded_and_leave_the_tools_own_draws_alone() -> None:
    tool = ToolSettings(name="calculator", latency_ms_median=0, error_rate=0.2)
    clean = ToolBox([tool], seed=3)
    faulty = ToolBox([tool], seed=3, fatal_rate=0.5)
    again = ToolBox([tool], seed=3, fatal_rate=0.5)

    async def calls(box: ToolBox) -> list[tuple[bool, bool, str]]:
        out = []
        for _ in range(200):
            outcome = await box.run("calculator", {"expression": "1 + 1"})
            out.append((outcome.ok, outcome.fatal, outcome.content))
        return out

    plain, fatal, repeat = (asyncio.run(calls(box)) for box in (clean, faulty, again))
    assert fatal == repeat  # same seed, same fates
    assert not any(f for _, f, _ in plain)
    n_fatal = sum(f for _, f, _ in fatal)
    assert binomial_bounds(200, 0.5)[0] <= n_fatal <= binomial_bounds(200, 0.5)[1]
    # where no fatal failure was drawn, each call fares as it would without the fault
    assert all(o == p for (o, f, _), (p, _, _) in zip(fatal, plain, strict=True) if not f)
