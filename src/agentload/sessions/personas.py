"""Session types: what each session is (persona, turns, think time, length) and what it sends.

``SessionShaper`` draws a session's shape when it starts: its persona (by weight, seeded by
the session's number), its number of turns or its duration, and its think-time sampler.
``PersonaBuilder`` sends each turn with the builder of the session's persona. Without
personas the scenario itself is the one session type (persona ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agentload.config.models import Scenario, SessionLoad
from agentload.config.sessions import ContextCheck, Distribution
from agentload.sessions.builders import RequestBuilder
from agentload.sessions.distributions import Sampler, count_sampler, sampler
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work

_ENDLESS_TURNS = 1_000_000  # a session bounded by its duration: the clock ends it


@dataclass(frozen=True, slots=True)
class SessionShape:
    turns: int
    think_s: Sampler
    max_duration_s: float | None = None
    persona: str | None = None
    context_check: ContextCheck | None = None


class Shaper(Protocol):
    """What the engine asks of a session shaper: the shape of session ``index`` (drawn with
    the session's generator), and its persona alone (for a session dropped at the cap)."""

    def __call__(self, index: int, rng: np.random.Generator) -> SessionShape: ...
    def persona_of(self, index: int) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _Kind:
    turns: Callable[[np.random.Generator], int]
    think_s: Sampler
    duration_s: Sampler | None
    context_check: ContextCheck | None


class SessionShaper:
    """Call with (session number, the session's generator) → its ``SessionShape``."""

    def __init__(self, scenario: Scenario) -> None:
        load = scenario.load
        assert isinstance(load, SessionLoad)
        self._seed = scenario.seed
        self._kinds: dict[str | None, _Kind] = {}
        if not scenario.personas:
            self._kinds[None] = _kind(load.turns, load.think_time, load.session_duration, load)
            self._names: list[str | None] = [None]
            self._cdf = np.array([1.0])
            return
        for name, persona in scenario.personas.items():
            self._kinds[name] = _kind(
                persona.turns or load.turns,
                persona.think_time or load.think_time,
                persona.session_duration or load.session_duration,
                load,
                persona.context_check,
            )
        weights = np.array([p.weight for p in scenario.personas.values()], dtype=float)
        self._names = list(scenario.personas)
        self._cdf = np.cumsum(weights / weights.sum())

    def persona_of(self, index: int) -> str | None:
        draw = float(np.random.default_rng([self._seed, index, 19]).random())
        position = int(np.searchsorted(self._cdf, draw, side="right"))
        return self._names[min(position, len(self._names) - 1)]

    def __call__(self, index: int, rng: np.random.Generator) -> SessionShape:
        name = self.persona_of(index)
        kind = self._kinds[name]
        duration_s = None if kind.duration_s is None else kind.duration_s(rng)
        turns = _ENDLESS_TURNS if duration_s is not None else kind.turns(rng)
        return SessionShape(turns, kind.think_s, duration_s, name, kind.context_check)


def _kind(
    turns: Distribution,
    think: Distribution,
    duration: Distribution | None,
    load: SessionLoad,
    check: ContextCheck | None = None,
) -> _Kind:
    return _Kind(
        count_sampler(turns),
        sampler(think),
        None if duration is None else sampler(duration),
        check if check is not None else load.context_check,
    )


class PersonaBuilder:
    """Builds each turn with the builder of its session's persona."""

    action = "persona"

    def __init__(self, builders: Mapping[str, RequestBuilder], default: RequestBuilder) -> None:
        self._builders = dict(builders)
        self._default = default
        self.action = default.action  # what a dropped session arrival is recorded as

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        persona = None if session is None else session.persona
        builder = self._builders.get(persona or "", self._default)
        return builder.build(seq, intended_at, user, session, turn)
