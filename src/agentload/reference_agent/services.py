"""The parts one app is built from, handed to every route through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from agentload.reference_agent.faults import FaultInjector
from agentload.reference_agent.inference import InferenceEngine
from agentload.reference_agent.jobs import JobRegistry
from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.profiles import Serializer
from agentload.reference_agent.settings import AgentSettings
from agentload.reference_agent.store import ContextStore
from agentload.reference_agent.turn import TurnRunner


@dataclass(frozen=True, slots=True)
class Services:
    settings: AgentSettings
    engine: InferenceEngine
    store: ContextStore
    tool_names: tuple[str, ...]  # what a session or task turn may call by default
    runner: TurnRunner
    metrics: AgentMetrics
    faults: FaultInjector
    serializer: Serializer
    jobs: JobRegistry


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services
