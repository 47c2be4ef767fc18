"""One client per request template, routed by each Work's action: a scenario whose actions
speak different protocols (a chat turn, a plain ``GET /healthz`` login, an async job).

``foreign_routes`` lists, per (persona, action), the requests whose protocol is not the
target's; the target's own protocol keeps the one client it always had. ``DispatchClient``
sends each Work to its route's client (``(persona, "*")``: a persona whose own ``request``
is foreign and who has no actions, whatever its builder names the action), and the rest to
the main client. Identical templates share one client, so a persona that inherits the
scenario's actions opens no second connection pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from agentload.clients.base import Client
from agentload.clock import Clock
from agentload.config.models import Request, Scenario
from agentload.records.record import CallResult, Timing
from agentload.sessions.work import Work

RouteKey = tuple[str | None, str]  # (persona or None, action name or "*")
ANY_ACTION = "*"


def foreign_routes(scenario: Scenario) -> dict[RouteKey, Request]:
    """The requests, by (persona, action), that the target's protocol client cannot send."""
    target = scenario.target.protocol
    routes: dict[RouteKey, Request] = {}

    def add(persona: str | None, request: Request, actions: Mapping[str, Request]) -> None:
        if not actions:
            if request.protocol != target:
                routes[(persona, ANY_ACTION)] = request
            return
        for name, action in {"request": request, **actions}.items():
            if action.protocol != target:
                routes[(persona, name)] = action

    add(None, scenario.request, scenario.actions)
    for name, persona in scenario.personas.items():
        actions = persona.actions if persona.actions is not None else scenario.actions
        add(name, persona.request or scenario.request, actions)
    return routes


class DispatchClient:
    """A Client that routes each Work by its action's protocol (see the module docstring)."""

    def __init__(
        self,
        main: Client,
        routes: Mapping[RouteKey, Request],
        build: Callable[[Request], Client],
    ) -> None:
        self._main = main
        by_template: dict[str, Client] = {}
        self._routes: dict[RouteKey, Client] = {}
        for key, request in routes.items():
            template = request.model_dump_json()
            if template not in by_template:
                by_template[template] = build(request)
            self._routes[key] = by_template[template]
        self._clients = list(by_template.values())

    @property
    def protocols(self) -> int:
        """How many clients it holds, the main one included."""
        return 1 + len(self._clients)

    def client_of(self, work: Work) -> Client:
        persona = work.session.persona if work.session is not None else None
        return (
            self._routes.get((persona, work.action))
            or self._routes.get((persona, ANY_ACTION))
            or self._main
        )

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        return await self.client_of(work).call(work, timing, clock)

    async def aclose(self) -> None:
        results = await asyncio.gather(
            self._main.aclose(), *(c.aclose() for c in self._clients), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
