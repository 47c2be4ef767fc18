"""What every collector is: a name, an async ``sample()`` that returns named numbers, a close.

A collector never raises out of ``sample``: a reading that fails is left out of that
sample, and a collector that cannot work at all says why once, through ``Notes``, and
returns nothing from then on. Telemetry is evidence about a run; it must never stop one.
"""

from __future__ import annotations

from typing import Protocol


class Collector(Protocol):
    name: str  # the ``collector`` field of its samples in telemetry.jsonl

    async def sample(self) -> dict[str, float]: ...

    async def close(self) -> None: ...


class Notes:
    """One-line messages about collectors that could not do their job, each said once."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.lines: list[str] = []

    def add(self, line: str, *, key: str | None = None) -> None:
        """``key``: lines sharing one are said once (the first), e.g. a collector's failure
        whose message changes from one attempt to the next."""
        seen = key if key is not None else line
        if seen not in self._seen:
            self._seen.add(seen)
            self.lines.append(line)


class Rates:
    """Turns cumulative counters into per-second rates between two readings."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def rate(self, key: str, value: float, at_s: float) -> float | None:
        """None for the first reading and after a counter reset (the value went down)."""
        previous = self._last.get(key)
        self._last[key] = (value, at_s)
        if previous is None:
            return None
        last_value, last_s = previous
        elapsed_s = at_s - last_s
        if elapsed_s <= 0 or value < last_value:
            return None
        return (value - last_value) / elapsed_s
