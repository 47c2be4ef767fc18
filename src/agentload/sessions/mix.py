"""Weighted mixes of actions, and Markov flows that chain a session's turns.

``mix`` picks each request's action by weight (and a session's first turn); ``flow`` picks a
session's next action from the last one's row of transition probabilities; what a row leaves
to 1 is the chance that the session ends there, and an action without a row ends it. Draws
are seeded by (seed, request number), so a run is reproducible whatever order requests
complete in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agentload.sessions.builders import RequestBuilder
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work

END = "<end>"


class MixBuilder:
    action = "mix"

    def __init__(
        self,
        builders: Mapping[str, RequestBuilder],
        mix: Mapping[str, float],
        flow: Mapping[str, Mapping[str, float]],
        seed: int,
    ) -> None:
        self._builders = dict(builders)
        self._seed = seed
        weights = dict(mix) or {"request": 1.0}
        self._names = list(weights)
        total = sum(weights.values())
        self._cdf = np.cumsum([weights[n] / total for n in self._names])
        self._flow = {
            origin: ([*row, END], np.cumsum([*row.values(), max(0.0, 1 - sum(row.values()))]))
            for origin, row in flow.items()
        }

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        draw = float(np.random.default_rng([self._seed, seq, 7]).random())
        name = self._pick(draw, session)
        if session is not None:
            session.action = name
            self._decide_next(session, seq)
        return self._builders[name].build(seq, intended_at, user, session, turn)

    def _pick(self, draw: float, session: SessionState | None) -> str:
        if session is not None and session.next_action is not None:
            return session.next_action  # the flow chose it with the previous turn
        index = int(np.searchsorted(self._cdf, draw, side="right"))
        return self._names[min(index, len(self._names) - 1)]

    def _decide_next(self, session: SessionState, seq: int) -> None:
        """Draw the action after this one now, so the session loop knows if it ends."""
        session.next_action = None
        if not self._flow:
            return  # no flow: every turn is drawn from the mix
        row = self._flow.get(session.action or "")
        if row is None:
            session.ended = True  # an action with no way out ends the session (e.g. pay)
            return
        names, cdf = row
        draw = float(np.random.default_rng([self._seed, seq, 11]).random())
        chosen = names[min(int(np.searchsorted(cdf, draw, side="right")), len(names) - 1)]
        if chosen == END:
            session.ended = True
        else:
            session.next_action = chosen
