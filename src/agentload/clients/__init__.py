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
]

from agentload.config.models import Scenario


def client_for(scenario: Scenario, *, max_connections: int) -> Client:
    request = scenario.request
    if request.protocol == "openai-chat":
        return OpenAIChatClient(scenario.target, max_connections=max_connections)
    if request.protocol == "agent-session":
        return AgentSessionClient(scenario.target, request, max_connections=max_connections)
    if request.protocol == "agent-task":
        return AgentTaskClient(scenario.target, request, max_connections=max_connections)
    if request.protocol == "openai-responses":
        from agentload.clients.openai_responses import OpenAIResponsesClient

        return OpenAIResponsesClient(scenario.target, max_connections=max_connections)
    if request.protocol == "a2a":
        from agentload.clients.a2a import A2AClient

        return A2AClient(scenario.target, request, max_connections=max_connections)
    return HttpClient(scenario.target, request, max_connections=max_connections)
