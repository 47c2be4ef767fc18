"""agentload: load-test and stress-test AI agents and LLM services, and find their bottlenecks.

The small public API::

    from agentload import load_scenario, run
    result = run(load_scenario("examples/openai-chat.yaml"))
    print(result.summary.to_dict()["latency_ms"]["p99"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["RunResult", "Scenario", "__version__", "load_scenario", "run"]

if TYPE_CHECKING:
    from agentload.api import RunResult, run
    from agentload.config import Scenario, load_scenario


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a leaf module (errors, units) does not pull in aiohttp.
    if name in ("run", "RunResult"):
        from agentload import api

        return getattr(api, name)
    if name in ("Scenario", "load_scenario"):
        from agentload import config

        return getattr(config, name)
    raise AttributeError(name)
