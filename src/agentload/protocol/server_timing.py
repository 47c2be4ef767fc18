"""Parse a ``Server-Timing`` header into named phases in milliseconds."""

from __future__ import annotations


def parse_server_timing(value: str) -> dict[str, float]:
    """``queue;dur=1.5, prefill;dur=20;desc="x"`` → ``{"queue": 1.5, "prefill": 20.0}``.

    Metrics without a valid ``dur`` are skipped; a malformed header yields what parsed.
    """
    phases: dict[str, float] = {}
    for metric in value.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        if not name:
            continue
        for param in params:
            key, sep, raw = param.partition("=")
            if sep and key.strip().lower() == "dur":
                try:
                    duration = float(raw.strip().strip('"'))
                except ValueError:
                    break
                if duration == duration and duration >= 0:
                    phases[name] = duration
                break
    return phases
