"""The asyncio engine: open and closed workload models, in-flight cap, graceful stop."""

from agentload.engine.core import (
    ClosedPlan,
    Engine,
    OpenPlan,
    RunStatus,
    SessionPlan,
    on_interrupt,
)
from agentload.engine.sinks import RecordSink

__all__ = [
    "ClosedPlan",
    "Engine",
    "OpenPlan",
    "RecordSink",
    "RunStatus",
    "SessionPlan",
    "on_interrupt",
]
