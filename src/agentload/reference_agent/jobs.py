"""Async jobs (``/v1/tasks``): a turn submitted now, polled later, cancellable.

Each job runs as an asyncio task on the same runner and engine as every other endpoint
(under the baseline profile it holds the same one-at-a-time lock while it runs). Finished
jobs are kept for ``keep_s`` seconds and at most ``keep_max`` of them, oldest dropped
first, so polling works for a while without the registry growing with the run; at most
``max_active`` jobs may be queued or running, beyond which submission is refused (429).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from agentload.reference_agent.metrics import AgentMetrics
from agentload.reference_agent.profiles import Serializer
from agentload.reference_agent.turn import Done, Failed, TurnRequest, TurnRunner
from agentload.reference_agent.turns import TurnState, error_json, reply_json, run_turn

logger = logging.getLogger(__name__)
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TooManyJobs(Exception):
    """``max_active`` jobs are queued or running already."""


@dataclass(slots=True)
class Job:
    id: str
    turn: TurnRequest
    created_at: float = field(default_factory=time.time)
    status: Status = "queued"
    started_at: float | None = None
    finished_at: float | None = None
    state: TurnState = field(default_factory=TurnState)
    task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def view(self) -> dict[str, Any]:
        """The job as ``GET /v1/tasks/{id}`` returns it (``schemas.TaskView``)."""
        end = self.state.end
        return {
            "id": self.id,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": {"tokens": self.state.tokens, "step": self.state.step},
            "result": reply_json(self.state, end) if isinstance(end, Done) else None,
            "error": error_json(end) if isinstance(end, Failed) else self._cancel_error(),
            "phases_ms": dict(end.phases_ms) if end is not None else None,
        }

    def _cancel_error(self) -> dict[str, Any] | None:
        if self.status != "cancelled":
            return None
        return {"type": "cancelled", "message": "the task was cancelled", "code": None}


class JobRegistry:
    def __init__(
        self,
        runner: TurnRunner,
        metrics: AgentMetrics,
        serializer: Serializer,
        *,
        keep_s: float = 600.0,
        keep_max: int = 1000,
        max_active: int = 10_000,
    ) -> None:
        self._runner = runner
        self._metrics = metrics
        self._serializer = serializer
        self._keep_s = keep_s
        self._keep_max = keep_max
        self._max_active = max_active
        self._active: dict[str, Job] = {}
        self._finished: OrderedDict[str, Job] = OrderedDict()  # in order of finishing

    def submit(self, turn: TurnRequest) -> Job:
        self._prune()
        if len(self._active) >= self._max_active:
            raise TooManyJobs(f"{self._max_active} tasks are queued or running already")
        job = Job(id="task_" + secrets.token_hex(12), turn=turn)
        self._active[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        self._prune()
        return self._active.get(job_id) or self._finished.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job; a finished one is returned unchanged."""
        job = self.get(job_id)
        if job is not None and not job.finished and job.task is not None:
            job.task.cancel()
            self._finish(job, "cancelled")  # at once, so the DELETE answer says so
        return job

    async def aclose(self) -> None:
        tasks = [job.task for job in self._active.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, job: Job) -> None:
        try:
            async with self._serializer.hold():
                job.status, job.started_at = "running", time.time()
                await run_turn(self._runner, job.turn, self._metrics, job.state)
        except asyncio.CancelledError:
            self._finish(job, "cancelled")
            raise
        except Exception as exc:  # a bug must not leave the job "running" for ever
            logger.exception("task %s failed", job.id)
            job.state.end = Failed("internal_error", f"{type(exc).__name__}: {exc}", 500)
        end = job.state.end
        self._finish(job, "succeeded" if isinstance(end, Done) else "failed")

    def _finish(self, job: Job, status: Status) -> None:
        if job.finished:
            return
        job.status, job.finished_at = status, time.time()
        self._active.pop(job.id, None)
        self._finished[job.id] = job

    def _prune(self) -> None:
        horizon = time.time() - self._keep_s
        while self._finished:
            oldest = next(iter(self._finished.values()))
            if len(self._finished) <= self._keep_max and (oldest.finished_at or 0) >= horizon:
                break
            self._finished.popitem(last=False)
