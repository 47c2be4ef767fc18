"""One line saying what a sessions load will do (``agentload validate``)."""

from __future__ import annotations

from agentload.config.models import Scenario, SessionLoad
from agentload.config.sessions import Distribution
from agentload.sessions.distributions import mean_of


def describe_sessions(scenario: Scenario) -> str:
    load = scenario.load
    assert isinstance(load, SessionLoad)
    if load.users is not None:
        start = f"{load.users} virtual users each running sessions back to back"
    elif isinstance(load.arrival, str):
        start = f"sessions arriving ({load.arrival}) at {load.rate:g}/s"
    else:
        start = f"sessions arriving ({load.arrival.get('kind')})"
    if load.session_duration is not None:
        length = f"lasting {_dist(load.session_duration, 's')}"
    else:
        length = f"{_dist(load.turns, ' turns')}"
    parts = [start, length, f"think {_dist(load.think_time, 's')}"]
    if load.users is None:
        parts.append(f"at most {load.max_in_flight} at once")
    if scenario.personas:
        total = sum(p.weight for p in scenario.personas.values())
        shares = ", ".join(f"{n} {p.weight / total:.0%}" for n, p in scenario.personas.items())
        parts.append(f"personas: {shares}")
    if load.context_check is not None:
        parts.append("context check on")
    return ", ".join(parts)


def _dist(dist: Distribution, unit: str) -> str:
    mean = mean_of(dist)
    shown = "?" if mean is None else f"{mean:.3g}{unit}"
    return f"{dist.kind} (mean {shown})" if dist.kind != "fixed" else shown
