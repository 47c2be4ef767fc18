"""The async job API: submit a turn, poll it, cancel it (see ``jobs.py``).

``POST /v1/tasks`` → 202 ``{"id", "status": "queued"}`` with ``Location: /v1/tasks/{id}``;
``GET /v1/tasks/{id}`` → the job with its status (queued, running, succeeded, failed,
cancelled), progress (tokens so far, current step) and, once finished, its result or error
and phases; ``DELETE /v1/tasks/{id}`` cancels it and returns the same view.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import Response

from agentload.reference_agent.jobs import TooManyJobs
from agentload.reference_agent.responses import error_response, json_response
from agentload.reference_agent.routes_sessions import turn_request
from agentload.reference_agent.schemas import ERRORS, ErrorResponse, TaskInput, TaskView
from agentload.reference_agent.services import services_of

router = APIRouter(prefix="/v1/tasks", tags=["Tasks"])
TaskId = Path(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="As returned by POST /v1/tasks.")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such task (or it expired)"}
}


@router.post(
    "", status_code=202, summary="Submit a turn to run in the background",
    response_model=TaskView, responses={400: ERRORS[400], 429: ERRORS[429]},
)  # fmt: skip
async def submit_task(request: Request, body: TaskInput) -> Response:
    received_ns = time.monotonic_ns()
    svc = services_of(request)
    turn, problem = turn_request(svc, body, body.session_id)
    if turn is None:
        return error_response(400, problem, "invalid_request_error", received_ns)
    try:
        job = svc.jobs.submit(turn)
    except TooManyJobs as exc:
        return error_response(429, str(exc), "rate_limit_exceeded", received_ns)
    return json_response(job.view(), status=202, headers={"Location": f"/v1/tasks/{job.id}"})


@router.get("/{task_id}", summary="Poll a task", response_model=TaskView, responses=_NOT_FOUND)
async def get_task(request: Request, task_id: str = TaskId) -> Response:
    job = services_of(request).jobs.get(task_id)
    if job is None:
        return _not_found(task_id)
    return json_response(job.view())


@router.delete(
    "/{task_id}", summary="Cancel a task (a finished one is left as it is)",
    response_model=TaskView, responses=_NOT_FOUND,
)  # fmt: skip
async def cancel_task(request: Request, task_id: str = TaskId) -> Response:
    job = services_of(request).jobs.cancel(task_id)
    if job is None:
        return _not_found(task_id)
    return json_response(job.view())


def _not_found(task_id: str) -> Response:
    return error_response(404, f"no task {task_id}", "not_found", time.monotonic_ns())
