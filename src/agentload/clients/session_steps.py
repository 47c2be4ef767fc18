"""Step timing of an agent turn, from the SSE step events as the client receives them.

A session turn streams ``step.started`` events (``store_read``, ``plan``, ``inference``,
``tool``, ``store_write``), ``tool.call``/``tool.result`` around a tool, tokens, and ends with
``done`` or ``error``. A step lasts from its ``step.started`` to the next step boundary: the
next ``step.started``, a tool's ``tool.result`` (for a tool step), or the end of the turn.

Phases it adds to the record (milliseconds):

- ``client.first_step``: from the message's send to the first ``step.started`` (how long the
  agent took to start working on the turn; session creation is ``session_create``);
- ``step.<name>`` for the steps whose time the server does not already report in the
  ``done`` event's ``phases_ms`` (``plan`` on the reference agent; every step on an agent
  that reports no phases), summed over the turn. ``store_read``/``store_write``, and
  ``inference`` (= ``queue`` + ``prefill`` + ``decode``), are the server's when it gives them,
  so that a step is never counted twice;
- ``step.tool.<tool>``: each tool's time, by name (the server reports only their sum, ``tool``).

Attribution (``analysis.attribution``) reads only the server's phase names, so these add
detail to the records without changing its shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

FIRST_STEP: Final = "client.first_step"
STEP_PREFIX: Final = "step."
# The server phases that already time a step (any of them present: keep the server's).
SERVER_PHASES_OF_STEP: Final = {
    "store_read": ("store_read",),
    "store_write": ("store_write",),
    "inference": ("queue", "prefill", "decode"),
    "tool": ("tool",),
}


class StepTimer:
    """Feed it the turn's events with their arrival times (ns); read ``phases_ms`` at the end."""

    def __init__(self, sent_at_ns: int | None) -> None:
        self._sent_at_ns = sent_at_ns
        self._first_step_ns: int | None = None
        self._open: tuple[str, int] | None = None  # (phase name, started at ns)
        self._tool: str | None = None  # the last tool.call's name: the next tool step's
        self._durations_ms: dict[str, float] = {}

    def started(self, step: str, at_ns: int) -> None:
        self._close(at_ns)
        if self._first_step_ns is None:
            self._first_step_ns = at_ns
        name = f"tool.{self._tool}" if step == "tool" and self._tool else step
        self._open = (name, at_ns)

    def tool_call(self, name: str) -> None:
        self._tool = name

    def tool_result(self, at_ns: int) -> None:
        if self._open is not None and self._open[0].startswith("tool"):
            self._close(at_ns)

    def phases_ms(self, at_ns: int, server: Mapping[str, float]) -> dict[str, float]:
        """The step phases at the turn's end (``at_ns``), given the server's ``phases_ms``."""
        self._close(at_ns)
        out: dict[str, float] = {}
        if self._first_step_ns is not None and self._sent_at_ns is not None:
            out[FIRST_STEP] = max(0.0, (self._first_step_ns - self._sent_at_ns) / 1e6)
        for name, ms in self._durations_ms.items():
            if name.startswith("tool."):
                out[STEP_PREFIX + name] = ms  # per tool: new whatever the server says
                if not any(p in server for p in SERVER_PHASES_OF_STEP["tool"]):
                    out[STEP_PREFIX + "tool"] = out.get(STEP_PREFIX + "tool", 0.0) + ms
            elif not any(p in server for p in SERVER_PHASES_OF_STEP.get(name, ())):
                out[STEP_PREFIX + name] = ms
        return out

    def _close(self, at_ns: int) -> None:
        if self._open is None:
            return
        name, started_ns = self._open
        self._durations_ms[name] = (
            self._durations_ms.get(name, 0.0) + max(0, at_ns - started_ns) / 1e6
        )
        self._open = None
