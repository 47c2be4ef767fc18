"""Pure planning of what to send: work items and request builders (seeded, no I/O)."""

from agentload.sessions.builders import ChatBuilder, HttpBuilder, RequestBuilder, builder_for
from agentload.sessions.work import Work

__all__ = ["ChatBuilder", "HttpBuilder", "RequestBuilder", "Work", "builder_for"]
