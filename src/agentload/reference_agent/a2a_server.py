"""The agent as an A2A agent, with the official ``a2a-sdk`` (the ``agentload[a2a]`` extra).

Imported only when the extra is installed (``app.py``); without it the routes are absent.

* ``GET /.well-known/agent-card.json``: the card, whose JSON-RPC URL is built from the
  request, so it is right behind any host, port or proxy the client used.
* ``POST /a2a``: JSON-RPC 2.0 (``SendMessage``, ``SendStreamingMessage``, ``GetTask``,
  ``CancelTask``, ...), served by the SDK's request handler.

Each message runs one agent turn (tools executed by the agent) inside a task: the task goes
working → completed (or failed), the answer streams as appends to the artifact ``answer``,
and the final status message carries the text plus ``usage``, ``phases_ms`` and
``context_lost`` in its metadata. An A2A ``contextId`` is the agent's session id, so the
agent remembers earlier messages of the same context; a context the server generated starts
an empty session, while an unknown one sent by a client reports ``context_lost``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from a2a.helpers import new_task_from_user_message
from a2a.server.agent_execution import AgentExecutor, RequestContext, SimpleRequestContextBuilder
from a2a.server.events import EventQueue
from a2a.server.id_generator import IDGenerator, IDGeneratorContext, UUIDGenerator
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes import add_a2a_routes_to_fastapi, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Part,
)
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH, PROTOCOL_VERSION_1_0, TransportProtocol
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentload.protocol.openai_chat import ChatMessage
from agentload.reference_agent.services import Services
from agentload.reference_agent.store import SessionContext
from agentload.reference_agent.turn import Done, Failed, Token, TurnRequest
from agentload.reference_agent.turns import done_json, error_json, events

RPC_PATH = "/a2a"
_ANSWER_ARTIFACT = "answer"
_MAX_FRESH_CONTEXTS = 10_000


def mount(app: FastAPI, services: Services) -> DefaultRequestHandler:
    """Add the A2A routes to ``app``; returns the handler (``aclose`` it at shutdown)."""
    card = _card(services, "http://localhost" + RPC_PATH)  # the URL is set per request
    contexts = _FreshContexts()
    handler = DefaultRequestHandler(
        agent_executor=_TurnExecutor(services, contexts),
        task_store=InMemoryTaskStore(),
        agent_card=card,
        request_context_builder=SimpleRequestContextBuilder(context_id_generator=contexts),
    )
    add_a2a_routes_to_fastapi(app, jsonrpc_routes=create_jsonrpc_routes(handler, RPC_PATH))

    async def agent_card(request: Request) -> Response:
        url = str(request.base_url).rstrip("/") + RPC_PATH
        return JSONResponse(agent_card_to_dict(_card(services, url)))

    app.add_api_route(
        AGENT_CARD_WELL_KNOWN_PATH, agent_card, methods=["GET"], tags=["A2A: Agent Card"],
        summary="The A2A agent card",
    )  # fmt: skip
    return handler


def _card(services: Services, url: str) -> AgentCard:
    skills = [
        AgentSkill(id="chat", name="chat", description="Answer, remembering the conversation.",
                   tags=["chat", "memory"]),
        *(AgentSkill(id=f"tool-{name}", name=name, description=f"Uses the {name} tool.",
                     tags=["tool"]) for name in services.tool_names),
    ]  # fmt: skip
    return AgentCard(
        name="agentload reference agent",
        description="A calibrated LLM agent service to load-test against.",
        version="1.0",
        supported_interfaces=[
            AgentInterface(
                url=url,
                protocol_binding=TransportProtocol.JSONRPC.value,
                protocol_version=PROTOCOL_VERSION_1_0,
            )
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=skills,
    )


class _FreshContexts(IDGenerator):
    """Context ids this server generated and no turn has used yet (bounded)."""

    def __init__(self) -> None:
        self._uuids = UUIDGenerator()
        self._fresh: OrderedDict[str, None] = OrderedDict()

    def generate(self, context: IDGeneratorContext) -> str:
        context_id = self._uuids.generate(context)
        self._fresh[context_id] = None
        while len(self._fresh) > _MAX_FRESH_CONTEXTS:
            self._fresh.popitem(last=False)
        return context_id

    def claim(self, context_id: str) -> bool:
        """True once for a context this server generated: a new conversation."""
        if context_id not in self._fresh:
            return False
        del self._fresh[context_id]
        return True


class _TurnExecutor(AgentExecutor):
    def __init__(self, services: Services, contexts: _FreshContexts) -> None:
        self._svc = services
        self._contexts = contexts

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is None:
            assert context.message is not None
            task = new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        if self._contexts.claim(task.context_id):
            await self._svc.store.save(task.context_id, SessionContext())
        turn = TurnRequest(
            messages=(ChatMessage(role="user", content=context.get_user_input()),),
            session_id=task.context_id,
            tools=self._svc.tool_names,
        )
        parts: list[str] = []
        async for event in events(self._svc.runner, turn, self._svc.metrics):
            if isinstance(event, Token):
                await updater.add_artifact(
                    [Part(text=event.text)], artifact_id=_ANSWER_ARTIFACT,
                    name=_ANSWER_ARTIFACT, append=bool(parts), last_chunk=False,
                )  # fmt: skip
                parts.append(event.text)
            elif isinstance(event, Done):
                meta: dict[str, Any] = done_json(event)
                reply = updater.new_agent_message([Part(text="".join(parts))], metadata=meta)
                await updater.complete(reply)
            elif isinstance(event, Failed):
                text = f"{event.kind}: {event.message}"
                meta = {"error": error_json(event), "phases_ms": dict(event.phases_ms)}
                await updater.failed(updater.new_agent_message([Part(text=text)], metadata=meta))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        # The SDK has already cancelled ``execute`` (closing the turn frees its batch slot).
        if context.task_id and context.context_id:
            await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()
