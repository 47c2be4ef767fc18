"""I/O adapters, one per protocol. Failures come back as error kinds on a CallResult."""

from agentload.clients.agent_session import AgentSessionClient
from agentload.clients.agent_task import AgentTaskClient
from agentload.clients.base import Client
from agentload.clients.http import HttpClient
from agentload.clients.openai_chat import OpenAIChatClient

__all__ = [
    "AgentSessionClient",
    "AgentTaskClient",
    "Client",
    "HttpClient",
    "OpenAIChatClient",
    "client_for",
    "client_for_request",
]

from agentload.config.models import Request, Scenario, Target


def client_for(scenario: Scenario, *, max_connections: int) -> Client:
    """The client of the scenario's protocol; with actions or personas of other protocols,
    a ``DispatchClient`` that routes each request to the client of its own protocol."""
    from agentload.clients.dispatch import DispatchClient, foreign_routes

    main = client_for_request(scenario.target, scenario.request, max_connections=max_connections)
    routes = foreign_routes(scenario)
    if not routes:
        return main

    def build(request: Request) -> Client:
        return client_for_request(scenario.target, request, max_connections=max_connections)

    return DispatchClient(main, routes, build)


def client_for_request(target: Target, request: Request, *, max_connections: int) -> Client:
    """The client that sends ``request`` (its own protocol) to ``target``."""
    if request.protocol == "openai-chat":
        return OpenAIChatClient(target, max_connections=max_connections)
    if request.protocol == "agent-session":
        return AgentSessionClient(target, request, max_connections=max_connections)
    if request.protocol == "agent-task":
        return AgentTaskClient(target, request, max_connections=max_connections)
    if request.protocol == "openai-responses":
        from agentload.clients.openai_responses import OpenAIResponsesClient

        return OpenAIResponsesClient(target, max_connections=max_connections)
    if request.protocol == "a2a":
        from agentload.clients.a2a import A2AClient

        return A2AClient(target, request, max_connections=max_connections)
    return HttpClient(target, request, max_connections=max_connections)
