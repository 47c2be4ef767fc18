"""Client of an agent's async task API (the reference agent's ``/v1/tasks``).

Submit (``POST`` → 202 with ``Location``), then poll the location until the job ends, with
an initial delay and intervals growing by a multiplier up to a cap, each with jitter; a
``Retry-After`` on a 429 or 503 poll answer is honoured (the next poll waits at least that
long); no result within ``max_wait`` is ``job_timeout``. Error answers and failed jobs are
classified by the scenario's ``target.classify`` rules, then the defaults. The record's
times: sent = submit, first byte = the 202, done = the poll that saw the end. Its phases
add what only polling can tell:

- ``queue_wait``, ``execution``: the server's own times (``started_at - created_at``,
  ``finished_at - started_at``), when it reports them;
- ``poll_overhead``: time to result seen by the client minus the job's server-side life —
  the price of polling instead of being told (durations only, so clock offsets cancel).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from agentload.clients.classify import classify_body, rules_for
from agentload.clients.payloads import json_object
from agentload.clients.transport import Response, error_result, open_transport, read_capped
from agentload.clock import NS_PER_S, Clock
from agentload.config.models import AgentTaskRequest, Target
from agentload.config.sessions import ClassifyRule
from agentload.protocol.openai_chat import ProtocolError
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from agentload.sessions.work import Work

_FINISHED = {"succeeded", "failed", "cancelled"}
_VIEW_BYTES = 1024 * 1024


class AgentTaskClient:
    def __init__(self, target: Target, request: AgentTaskRequest, *, max_connections: int) -> None:
        self._transport = open_transport(target, max_connections=max_connections)
        self._poll = request.poll
        self._rules = rules_for(target)
        self._rng = np.random.default_rng(0)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        submit = _Submit(self._rules)
        submitted = await self._transport.exchange(work, timing, clock, submit)
        if submitted.outcome is not Outcome.OK or submit.location is None:
            return submitted
        sent_at, first_byte_at = timing.sent_at, timing.first_byte_at
        assert sent_at is not None
        delay_s = self._poll.initial
        deadline_ns = sent_at + int(self._poll.max_wait * NS_PER_S)
        polls = 0
        told_s = 0.0  # a Retry-After: the least the next poll waits (jitter only adds)
        while True:
            wait_s = max(self._jittered(delay_s), min(told_s, self._poll.max_wait))
            wake_ns = clock.now_ns() + int(wait_s * NS_PER_S)
            told_s = 0.0
            if wake_ns > deadline_ns:
                return CallResult(
                    done_at=clock.now_ns(), outcome=Outcome.ERROR, polls=polls,
                    error_kind=ErrorKind.JOB_TIMEOUT,
                    error_message=f"no result within {self._poll.max_wait:g}s",
                )  # fmt: skip
            await clock.sleep_until(wake_ns, precise=False)
            view = _View(self._rules)
            poll = Work(seq=work.seq, intended_at=work.intended_at, action=work.action,
                        method="GET", path=submit.location, body=None)  # fmt: skip
            answer = await self._transport.exchange(poll, Timing(), clock, view)
            polls += 1
            if answer.outcome is not Outcome.OK:
                if answer.http_status in (429, 503) and answer.retry_after_s is not None:
                    told_s = answer.retry_after_s  # busy: come back when told
                    continue
                return _with(answer, polls=polls)
            if view.body is not None and view.body.get("status") in _FINISHED:
                timing.sent_at, timing.first_byte_at = sent_at, first_byte_at
                return _finished(view, clock, sent_at, polls)
            delay_s = min(self._poll.max_interval, max(delay_s, 0.001) * self._poll.multiplier)

    def _jittered(self, delay_s: float) -> float:
        jitter = self._poll.jitter
        return delay_s * float(self._rng.uniform(1 - jitter, 1 + jitter)) if jitter else delay_s


class _Submit:
    def __init__(self, rules: tuple[ClassifyRule, ...]) -> None:
        self.rules = rules
        self.location: str | None = None

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        if response.status not in (200, 201, 202):
            return await error_result(response, clock, 64 * 1024, self.rules)
        body = _task_json(await read_capped(response, _VIEW_BYTES))
        location = response.headers.get("Location")
        if not location and isinstance(body.get("id"), str):
            location = f"{work.path.rstrip('/')}/{body['id']}"
        if not location:
            raise ProtocolError("the task submission answered without a Location or an id")
        self.location = location
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=response.status)


class _View:
    def __init__(self, rules: tuple[ClassifyRule, ...]) -> None:
        self.rules = rules
        self.body: dict[str, Any] | None = None
        self.raw = b""  # the body as sent: the classify rules' regexes read it

    async def read(
        self, response: Response, work: Work, timing: Timing, clock: Clock
    ) -> CallResult:
        if response.status != 200:  # error_result reads a Retry-After (seconds or a date)
            return await error_result(response, clock, 64 * 1024, self.rules)
        self.raw = await read_capped(response, _VIEW_BYTES)
        self.body = _task_json(self.raw)
        return CallResult(done_at=clock.now_ns(), outcome=Outcome.OK, http_status=200)


def _task_json(raw: bytes) -> dict[str, Any]:
    return json_object(raw, "the task API's answer")


def _seconds(view: dict[str, Any], key: str) -> float | None:
    value = view.get(key)
    return float(value) if isinstance(value, int | float) else None


def _finished(answer: _View, clock: Clock, sent_at: int, polls: int) -> CallResult:
    view = answer.body or {}
    done_at = clock.now_ns()
    phases = {
        str(k): float(v)
        for k, v in (view.get("phases_ms") or {}).items()
        if isinstance(v, int | float)
    }
    created, started, finished = (_seconds(view, k) for k in ("created_at", "started_at",
                                                              "finished_at"))  # fmt: skip
    if created is not None and started is not None:
        phases["queue_wait"] = (started - created) * 1000
    if started is not None and finished is not None:
        phases["execution"] = (finished - started) * 1000
    if created is not None and finished is not None:
        phases["poll_overhead"] = max(0.0, (done_at - sent_at) / 1e6 - (finished - created) * 1000)
    if view.get("status") != "succeeded":
        error = view.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        return CallResult(
            done_at=done_at, outcome=Outcome.ERROR, polls=polls, phases_ms=phases,
            error_kind=_failure_kind(answer),
            error_message=f"job {view.get('status')}: {message or kind or 'no reason given'}",
        )  # fmt: skip
    result = view.get("result") or {}
    usage = result.get("usage") if isinstance(result, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return CallResult(
        done_at=done_at, outcome=Outcome.OK, http_status=200, polls=polls, phases_ms=phases,
        input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
    )  # fmt: skip


def _failure_kind(answer: _View) -> ErrorKind:
    """A failed job's kind: what the rules (scenario's, then the defaults) say its view
    means, when that is a failure of the job itself (``model_oom``, ``context_lost``); the
    HTTP kinds describe the poll answer, which was a 200, so they do not apply here."""
    kind = classify_body(200, answer.raw, answer.rules)
    return kind if kind in _JOB_KINDS else ErrorKind.JOB_FAILED


_JOB_KINDS = frozenset({ErrorKind.MODEL_OOM, ErrorKind.CONTEXT_LOST, ErrorKind.TOOL_ERROR})


def _with(result: CallResult, **changes: Any) -> CallResult:
    return msgspec.structs.replace(result, **changes)
