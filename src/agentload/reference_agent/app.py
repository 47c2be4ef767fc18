"""The reference agent's HTTP app: every API over one engine, store and runner.

``create_app(settings)`` builds the parts the settings describe (engine, context store,
tools, ``AgentRunner``), wires them to the routes, and starts and stops them with the app's
lifespan. Routes live in ``routes_*.py`` and ``a2a_server.py``; the OpenAPI spec at
``/openapi.json`` documents all of them.

Middleware, outermost first: ``ObservabilityMiddleware`` (request metrics, a
``Server-Timing`` on every response), ``FaultMiddleware`` (injected 429/5xx before any
work), ``SerialMiddleware`` (the baseline profile's one-at-a-time lock). Periodic stalls
run as a background task of the lifespan (``faults.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from agentload.reference_agent import (
    routes_chat,
    routes_metrics,
    routes_responses,
    routes_sessions,
    routes_tasks,
)
from agentload.reference_agent.agent import AgentRunner
from agentload.reference_agent.auth import api_key_middleware
from agentload.reference_agent.faults import FaultInjector, FaultMiddleware
from agentload.reference_agent.inference import InferenceEngine
from agentload.reference_agent.jobs import JobRegistry
from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.middleware import ObservabilityMiddleware
from agentload.reference_agent.profiles import Serializer, SerialMiddleware
from agentload.reference_agent.responses import error_response
from agentload.reference_agent.schemas import CHAT_COMPONENTS
from agentload.reference_agent.services import Services
from agentload.reference_agent.settings import AgentSettings
from agentload.reference_agent.store import ContextStore, open_store
from agentload.reference_agent.tools import ToolBox
from agentload.reference_agent.turn import TurnRunner

logger = logging.getLogger(__name__)


def create_app(
    settings: AgentSettings | None = None,
    *,
    engine: InferenceEngine | None = None,
    store: ContextStore | None = None,
    runner: TurnRunner | None = None,
) -> FastAPI:
    """The ASGI app. Parts not given are built from ``settings``; a given ``runner`` must
    use the given (or built) engine and store. The app starts and stops them all."""
    settings = settings if settings is not None else AgentSettings()
    engine = engine if engine is not None else build_engine(settings)
    store = store if store is not None else open_store(settings)
    metrics = AgentMetrics(engine, store)
    tools = ToolBox.from_settings(settings)
    if runner is None:
        runner = AgentRunner(
            settings, engine, store, tools, on_phase=metrics.on_phase, on_tool=metrics.on_tool
        )
    serializer = Serializer(serial=settings.profile == "baseline")
    faults = FaultInjector(settings.faults, settings.seed, metrics)
    services = Services(
        settings=settings, engine=engine, store=store, tool_names=tools.names, runner=runner,
        metrics=metrics, faults=faults, serializer=serializer,
        jobs=JobRegistry(runner, metrics, serializer),
    )  # fmt: skip
    closers: list[Callable[[], Any]] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        stalls = asyncio.create_task(faults.stall_loop(), name="agent-stalls")
        try:
            yield
        finally:
            stalls.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stalls
            await services.jobs.aclose()
            for close in closers:
                await close()
            await engine.aclose()
            await store.aclose()

    app = FastAPI(
        title="agentload reference agent",
        version=_version(),
        description="A calibrated LLM-agent service to load-test against: OpenAI-compatible "
        "chat, sessions, async tasks, A2A, Prometheus metrics. Every response carries "
        "Server-Timing (store_read, queue, prefill, decode, tool, store_write, total).",
        lifespan=lifespan,
        middleware=[
            Middleware(ObservabilityMiddleware, metrics=metrics),
            *api_key_middleware(settings),
            Middleware(FaultMiddleware, injector=faults),
            Middleware(SerialMiddleware, serializer=serializer),
        ],
        exception_handlers={RequestValidationError: _invalid_body, HTTPException: _http_error},
    )
    app.state.services = services
    for module in (routes_chat, routes_responses, routes_sessions, routes_tasks, routes_metrics):
        app.include_router(module.router)
    _add_components(app, CHAT_COMPONENTS)
    handler = _mount_a2a(app, services)
    if handler is not None:
        closers.append(handler.aclose)
    return app


def build_engine(settings: AgentSettings) -> InferenceEngine:
    """The engine ``settings.engine.kind`` names (``hf`` needs the ``[hf]`` extra)."""
    if settings.engine.kind == "hf":
        from agentload.reference_agent.hf_engine import HFEngine

        return HFEngine.from_settings(settings)  # whole settings: profile, sigma, oom_rate apply
    from agentload.reference_agent.engine import SimulatedEngine

    return SimulatedEngine.from_settings(settings)


def _mount_a2a(app: FastAPI, services: Services) -> Any:
    try:
        from agentload.reference_agent import a2a_server
    except ImportError as exc:
        if not (exc.name or "").startswith(("a2a", "sse_starlette", "google")):
            raise  # a bug, not a missing extra
        logger.info("A2A disabled: install agentload[a2a] (%s)", exc)
        return None
    return a2a_server.mount(app, services)


def _add_components(app: FastAPI, components: dict[str, Any]) -> None:
    """Schemas that routes reference by ``$ref`` outside FastAPI's own models."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    try:
        return metadata.version("agentload")
    except metadata.PackageNotFoundError:
        return "0"


async def _invalid_body(_request: Request, exc: Exception) -> Response:
    """FastAPI's validation errors as one OpenAI-style 400 (clients parse ``error``)."""
    problems = exc.errors() if isinstance(exc, RequestValidationError) else []
    text = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in problems
    )
    return error_response(
        400, text or "invalid request", "invalid_request_error", time.monotonic_ns()
    )


async def _http_error(_request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    kind = "not_found" if status == 404 else "invalid_request_error"
    return error_response(status, str(detail), kind, time.monotonic_ns())
