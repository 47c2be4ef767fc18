"""The scenario's request builder: one per action, a mix/flow over them, one set per persona.

Datasets are read here, once per file, when the run is planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from agentload.config.models import ChatRequest, Request, Scenario
from agentload.config.protocols import A2ARequest, ResponsesRequest
from agentload.sessions.builders import ChatBuilder, RequestBuilder, builder_for
from agentload.sessions.datasets import Conversation, load_conversations
from agentload.sessions.mix import MixBuilder
from agentload.sessions.personas import PersonaBuilder
from agentload.sessions.state import SessionState
from agentload.sessions.threaded import A2ABuilder, ResponsesBuilder
from agentload.sessions.work import Work


def scenario_builder(scenario: Scenario) -> RequestBuilder:
    """The request builder, or a mix/flow over the named actions when there are any, or
    one such per persona; with ``target.affinity_header``, each request names its session."""
    builder = _personas_builder(scenario)
    header = scenario.target.affinity_header
    return builder if header is None else AffinityBuilder(builder, header)


def _personas_builder(scenario: Scenario) -> RequestBuilder:
    datasets: dict[str, list[Conversation]] = {}
    default = _actions_builder(
        scenario.request, scenario.actions, scenario.mix, scenario.flow, scenario.seed,
        None, datasets,
    )  # fmt: skip
    if not scenario.personas:
        return default
    builders: dict[str, RequestBuilder] = {}
    for name, persona in scenario.personas.items():
        builders[name] = _actions_builder(
            persona.request or scenario.request,
            persona.actions if persona.actions is not None else scenario.actions,
            persona.mix if persona.mix is not None else scenario.mix,
            persona.flow if persona.flow is not None else scenario.flow,
            scenario.seed,
            persona.system_prompt,
            datasets,
        )
    return PersonaBuilder(builders, default)


class AffinityBuilder:
    """Adds ``<header>: <session id>`` to every request of a session, so a router can keep
    a conversation on one replica (requests outside sessions carry their own name)."""

    def __init__(self, inner: RequestBuilder, header: str) -> None:
        self._inner = inner
        self._header = header
        self.action = inner.action

    def build(
        self,
        seq: int,
        intended_at: int,
        user: int | None = None,
        session: SessionState | None = None,
        turn: int = 0,
    ) -> Work:
        work = self._inner.build(seq, intended_at, user, session, turn)
        name = work.session.session_id if work.session is not None else f"r{seq}"
        return msgspec.structs.replace(work, headers=(*work.headers, (self._header, name)))


def request_builder(
    request: Request,
    seed: int,
    *,
    system_prompt: str | None = None,
    datasets: dict[str, list[Conversation]] | None = None,
) -> RequestBuilder:
    if isinstance(request, ResponsesRequest):
        return ResponsesBuilder(request, seed)
    if isinstance(request, A2ARequest):
        return A2ABuilder(request, seed)
    if isinstance(request, ChatRequest) and (system_prompt or request.dataset):
        conversations: list[Conversation] = []
        if request.dataset is not None:
            cache = datasets if datasets is not None else {}
            if request.dataset not in cache:
                cache[request.dataset] = load_conversations(Path(request.dataset))
            conversations = cache[request.dataset]
        return ChatBuilder(request, seed, system_prompt=system_prompt, conversations=conversations)
    return builder_for(request, seed)


def _actions_builder(
    request: Request,
    actions: Mapping[str, Request],
    mix: Mapping[str, float],
    flow: Mapping[str, Mapping[str, float]],
    seed: int,
    system_prompt: str | None,
    datasets: dict[str, list[Conversation]],
) -> RequestBuilder:
    main = request_builder(request, seed, system_prompt=system_prompt, datasets=datasets)
    if not actions:
        return main
    main.action = "request"  # the name mix and flow use for it, on its records too
    builders: dict[str, RequestBuilder] = {"request": main}
    for name, action in actions.items():
        builder = request_builder(action, seed, system_prompt=system_prompt, datasets=datasets)
        builder.action = name
        builders[name] = builder
    return MixBuilder(builders, mix, flow, seed)
