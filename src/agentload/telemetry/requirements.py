"""Packages that optional telemetry collectors need, checked before a run starts: a missing
one is a usage error naming the extra to install, not a failure once the run is under way."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Final

from agentload.config.telemetry import TelemetryConfig
from agentload.errors import UsageError

REDIS_EXTRA_HINT: Final = "pip install 'agentload[redis]'"


def require_packages(config: TelemetryConfig) -> None:
    """Raise ``UsageError`` (exit 2) when a configured collector's package is missing."""
    if config.redis is not None and find_spec("redis") is None:
        raise UsageError(
            "telemetry.redis: the Redis collector needs the redis package, which is not "
            f"installed: {REDIS_EXTRA_HINT} (or remove telemetry.redis)"
        )
