"""``agentload validate SCENARIO``: check a scenario file and print what would run."""

from __future__ import annotations

from pathlib import Path

import typer

from agentload.cli.options import SCENARIO_ARG, SET_OPTION
from agentload.config import load_scenario
from agentload.sessions.describe import describe_sessions

HELP = (
    "Check a scenario file without sending anything. Prints one line per problem "
    "(file:line, field, what is allowed) and exits 2, or prints a one-line description "
    "and exits 0."
)


def validate_command(
    scenario: Path = SCENARIO_ARG,
    set_: list[str] = SET_OPTION,
) -> None:
    loaded = load_scenario(scenario, overrides=set_ or ())
    load = loaded.load
    if load.model == "open":
        arrival = (
            f"{load.arrival} arrivals at {load.rate:g}/s"
            if isinstance(load.arrival, str) and load.rate is not None
            else f"{load.arrival.get('kind') if isinstance(load.arrival, dict) else load.arrival}"
            " arrivals"
        )
        shape = f"open model, {arrival}, in-flight cap {load.max_in_flight}"
    elif load.model == "sessions":
        shape = describe_sessions(loaded)
    elif load.model == "adaptive":
        shape = f"adaptive model, {load.min_users}-{load.max_users} users holding {load.target}"
    else:
        shape = f"closed model, {load.users} users"
    count = (
        f"{load.sessions} sessions"
        if load.model == "sessions" and load.sessions is not None
        else f"{load.requests} requests"
        if load.model in ("open", "closed") and load.requests is not None
        else ""
    )
    bounds = [f"{load.duration:g}s" if load.duration is not None else "", count]
    bound = " and ".join(b for b in bounds if b) or "as long as the arrival profile or trace"
    typer.echo(
        f"{scenario}: ok — {loaded.name}: {loaded.target.protocol} to {loaded.target.base_url}, "
        f"{shape}, for {bound}"
    )
