"""``GET /metrics`` (Prometheus text format) and ``GET /healthz``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from agentload.reference_agent.metrics import CONTENT_TYPE
from agentload.reference_agent.responses import json_response
from agentload.reference_agent.services import services_of

router = APIRouter(tags=["Operations"])

_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}},
          "description": "Prometheus text exposition format"}
}  # fmt: skip


@router.get("/metrics", summary="Prometheus metrics", responses=_TEXT)
async def metrics(request: Request) -> Response:
    return Response(services_of(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    return json_response({"status": "ok"})
