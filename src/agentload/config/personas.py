"""Checks of a scenario's ``personas`` against the rest of it (one place, clear messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentload.config.models import Scenario


def check_personas(scenario: Scenario) -> None:
    """Raise ``ValueError`` naming ``personas.<name>.<field>`` for the first problem."""
    if scenario.load.model != "sessions":
        raise ValueError("personas need load.model: sessions (each persona is a session type)")
    target = scenario.target.protocol
    for name, persona in scenario.personas.items():
        where = f"personas.{name}"
        # A persona's request and actions may speak other protocols (clients.dispatch).
        actions = persona.actions if persona.actions is not None else scenario.actions
        names = {"request", *actions}
        mix = persona.mix if persona.mix is not None else scenario.mix
        flow = persona.flow if persona.flow is not None else scenario.flow
        _known(f"{where}.mix", set(mix), names)
        _known(f"{where}.flow", set(flow), names)
        for origin, row in flow.items():
            _known(f"{where}.flow.{origin}", set(row), names)
            if sum(row.values()) > 1 + 1e-9:
                raise ValueError(f"{where}.flow.{origin}: probabilities add up to more than 1")
        if actions and not mix and not flow:
            raise ValueError(f"{where}: actions are used through mix or flow")
        if persona.system_prompt is not None and target not in ("openai-chat",):
            raise ValueError(f"{where}.system_prompt applies to protocol openai-chat only")


def _known(where: str, used: set[str], names: set[str]) -> None:
    unknown = sorted(used - names)
    if unknown:
        raise ValueError(
            f"{where} names {', '.join(unknown)}: not an action; known: {', '.join(sorted(names))}"
        )


def persona_weights(personas: Mapping[str, float]) -> dict[str, float]:
    """Shares that add up to 1, in the scenario's order."""
    total = sum(personas.values())
    return {name: weight / total for name, weight in personas.items()}
