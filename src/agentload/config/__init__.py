"""Scenario configuration: typed models and the YAML loader with file:line errors."""

from agentload.config.loader import load_scenario, parse_scenario
from agentload.config.models import (
    ChatRequest,
    ClosedLoad,
    HttpRequest,
    OpenLoad,
    Scenario,
    SessionLoad,
    Target,
    ThinkTime,
    Timeouts,
)

__all__ = [
    "ChatRequest",
    "ClosedLoad",
    "HttpRequest",
    "OpenLoad",
    "Scenario",
    "SessionLoad",
    "Target",
    "ThinkTime",
    "Timeouts",
    "load_scenario",
    "parse_scenario",
]
