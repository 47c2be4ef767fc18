"""Step timing from an agent turn's step events (pure; property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentload.clients.session_steps import FIRST_STEP, StepTimer

MS = 1_000_000
SERVER = {"store_read": 1, "queue": 2, "prefill": 3, "decode": 20, "tool": 40, "store_write": 1}


def reference_turn(timer: StepTimer) -> dict[str, float]:
    """The reference agent's order: store_read, plan, inference, tool call, tool, inference."""
    timer.started("store_read", 5 * MS)
    timer.started("plan", 6 * MS)
    timer.started("inference", 7 * MS)
    timer.tool_call("search")
    timer.started("tool", 20 * MS)
    timer.tool_result(60 * MS)
    timer.started("inference", 61 * MS)
    timer.started("store_write", 90 * MS)
    return timer.phases_ms(91 * MS, SERVER)


def test_new_steps_are_added_and_the_servers_are_kept() -> None:
    phases = reference_turn(StepTimer(sent_at_ns=0))
    assert phases == {FIRST_STEP: 5.0, "step.plan": 1.0, "step.tool.search": 40.0}


def test_without_server_phases_every_step_is_timed_by_the_client() -> None:
    timer = StepTimer(sent_at_ns=0)
    reference_turn(timer)
    phases = timer.phases_ms(91 * MS, {})
    assert phases["step.inference"] == (20 - 7) + (90 - 61)
    assert phases["step.tool"] == phases["step.tool.search"] == 40.0
    assert phases["step.store_read"] == 1.0 and phases["step.store_write"] == 1.0


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=30))
def test_steps_add_up_to_the_time_from_the_first_step_to_the_end(gaps: list[int]) -> None:
    timer = StepTimer(sent_at_ns=0)
    at = 0
    names = ("store_read", "plan", "inference", "tool", "store_write")
    for i, gap in enumerate(gaps):
        at += gap
        timer.started(names[i % len(names)], at)
    end = at + 1
    phases = timer.phases_ms(end, {})
    steps = sum(v for k, v in phases.items() if k.startswith("step."))
    assert abs(steps - (end - gaps[0]) / MS) < 1e-6
    assert phases[FIRST_STEP] == gaps[0] / MS
