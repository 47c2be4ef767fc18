"""Where records go: the engine pushes each finished record to every sink, in order."""

from __future__ import annotations

from typing import Protocol

from agentload.records.record import RequestRecord


class RecordSink(Protocol):
    def add(self, record: RequestRecord) -> None: ...
