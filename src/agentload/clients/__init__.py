"""I/O adapters, one per protocol. Failures come back as error kinds on a CallResult."""

from agentload.clients.base import Client
from agentload.clients.http import HttpClient
from agentload.clients.openai_chat import OpenAIChatClient

__all__ = ["Client", "HttpClient", "OpenAIChatClient", "client_for"]

from agentload.config.models import Scenario


def client_for(scenario: Scenario, *, max_connections: int) -> Client:
    if scenario.target.protocol == "openai-chat":
        return OpenAIChatClient(scenario.target, max_connections=max_connections)
    request = scenario.request
    assert request.protocol == "http"
    return HttpClient(scenario.target, request, max_connections=max_connections)
