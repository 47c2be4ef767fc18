"""The asyncio engine: sends planned work on time, and turns every outcome into a record.

Open model: each request has an intended start from the arrival schedule and is sent then;
when the in-flight cap is full it is recorded ``dropped`` (with its time), never queued.
Closed model: N users, each sends, waits for the answer, thinks, and sends again.

Stopping: ``stop()`` ends sending and lets in-flight requests finish within the grace
period; ``cancel()`` cancels them at once (recorded ``cancelled``). Work still in flight when
the grace period ends is cancelled too. Nothing is lost: every request that came due is
exactly one record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from agentload.clients.base import Client
from agentload.clock import NS_PER_S, Clock
from agentload.engine.sinks import RecordSink
from agentload.records.record import (
    CallResult,
    ErrorKind,
    Outcome,
    RequestRecord,
    Timing,
)
from agentload.sessions.builders import RequestBuilder
from agentload.sessions.nonce import judge, session_nonce
from agentload.sessions.personas import SessionShape, Shaper
from agentload.sessions.state import SessionState
from agentload.sessions.work import Work

_PARKED_NS = 20_000_000  # how often a parked user checks whether it may send again
_OK = Outcome.OK  # bound once: an enum member lookup costs ~80 ns, and _emit runs per request


class RunStatus(StrEnum):
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class OpenPlan:
    schedule_ns: Iterator[int]  # intended starts, non-decreasing
    max_in_flight: int


@dataclass(frozen=True)
class SessionPlan:
    """Sessions start on ``schedule_ns``; each runs ``turns(rng)`` turns, closed-loop."""

    schedule_ns: Iterator[int]
    max_sessions: int  # concurrent sessions; an arrival beyond it is dropped
    turns: Callable[[np.random.Generator], int]
    think_min_s: float
    think_max_s: float
    end_ns: int | None  # no turn starts after this
    seed: int
    # When given, draws each session's persona, turns, think time and length (else the
    # fields above apply); ``users``: closed, N users each running sessions back to back.
    shape: Shaper | None = None
    users: int | None = None
    max_sessions_total: int | None = None  # closed: stop starting sessions after this many


@dataclass(frozen=True)
class ClosedPlan:
    users: int
    think_min_s: float
    think_max_s: float
    duration_s: float | None
    max_requests: int | None
    seed: int


class Engine:
    def __init__(
        self,
        plan: OpenPlan | ClosedPlan | SessionPlan,
        builder: RequestBuilder,
        client: Client,
        clock: Clock,
        sinks: Sequence[RecordSink],
        *,
        grace_s: float,
        worker: int = 0,
    ) -> None:
        self._plan = plan
        self._builder = builder
        self._client = client
        self._clock = clock
        self._sinks = tuple(sinks)
        self._adds = tuple(sink.add for sink in self._sinks)  # bound once, called per request
        self._grace_ns = int(grace_s * NS_PER_S)
        self._worker = worker
        self._tasks: set[asyncio.Task[None]] = set()
        # Closed model: each user sends from its own task (no task per request); ``_busy``
        # holds the users with a request in flight, which a stop lets finish.
        self._users: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._driver: asyncio.Task[None] | None = None
        self._stopping = False
        self._cancelled = False
        self.issued = 0  # requests that came due (sent or dropped)
        self.user_limit: int | None = None  # closed model: users at or past it wait (adaptive)
        self.sending_ended_ns: int | None = None  # when the driver stopped issuing work
        self.sessions_started = 0
        self.sessions_completed = 0
        self.sessions_failed = 0
        self.sessions_dropped = 0
        self._sessions_begun = 0  # closed sessions: numbers handed out to users

    @property
    def in_flight(self) -> int:
        return len(self._tasks) + len(self._busy)

    def stop(self) -> None:
        """Stop sending; in-flight requests may finish within the grace period."""
        self._stopping = True
        if self._driver is not None:
            self._driver.cancel()

    def cancel(self) -> None:
        """Stop now: in-flight requests are cancelled and recorded as such."""
        self.stop()
        self._cancelled = True
        for task in [*self._tasks, *self._users]:
            task.cancel()

    async def run(self) -> RunStatus:
        if isinstance(self._plan, OpenPlan):
            driver = self._drive_open()
        elif isinstance(self._plan, SessionPlan) and self._plan.users is not None:
            driver = self._drive_session_users()
        elif isinstance(self._plan, SessionPlan):
            driver = self._drive_sessions()
        else:
            driver = self._drive_closed()
        self._driver = asyncio.ensure_future(driver)
        try:
            await self._driver
        except asyncio.CancelledError:
            if not self._stopping:  # cancelled from outside (e.g. Ctrl-C through asyncio.run)
                await self._abandon()
                raise
        except BaseException:
            await self._abandon()
            raise
        finally:
            self.sending_ended_ns = self._clock.now_ns()
        await self._drain()
        return RunStatus.INTERRUPTED if self._stopping else RunStatus.COMPLETE

    async def _abandon(self) -> None:
        """Cancel what is in flight and wait until each has left its record."""
        self.cancel()
        if self._tasks or self._users:
            await asyncio.shield(asyncio.wait(self._tasks | self._users))

    async def _drain(self) -> None:
        if (self._tasks or self._users) and not self._cancelled:
            _, pending = await asyncio.wait(
                self._tasks | self._users,
                timeout=self._grace_ns / NS_PER_S if self._grace_ns else 0,
            )
            for task in pending:
                task.cancel()
        if self._tasks or self._users:
            await asyncio.wait(self._tasks | self._users)

    # --- open model ---------------------------------------------------------------------

    async def _drive_open(self) -> None:
        assert isinstance(self._plan, OpenPlan)
        cap = self._plan.max_in_flight
        clock = self._clock
        behind = 0
        for intended_at in self._plan.schedule_ns:
            if intended_at > clock.now_ns():
                behind = 0
                await clock.sleep_until(intended_at)
            else:
                # Behind schedule: sleep_until would not yield. Let the requests, the record
                # flusher and signal handlers run now and then, or they starve.
                behind += 1
                if behind % 16 == 0:
                    await asyncio.sleep(0)
            seq = self.issued
            self.issued += 1
            if len(self._tasks) >= cap:
                self._emit_dropped(seq, intended_at)
                continue
            self._spawn(self._builder.build(seq, intended_at), released_at=clock.now_ns())

    def _spawn(self, work: Work, released_at: int | None = None) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._execute(work, released_at))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, work))
        return task

    def _finished(self, task: asyncio.Task[None], work: Work) -> None:
        self._tasks.discard(task)
        if task.cancelled():  # cancelled before its first step: _execute never ran
            self._emit(
                work,
                Timing(),
                CallResult(
                    done_at=self._clock.now_ns(),
                    outcome=Outcome.CANCELLED,
                    error_kind=ErrorKind.CANCELLED,
                    error_message="cancelled before it was sent",
                ),
            )

    # --- closed model -------------------------------------------------------------------

    async def _drive_closed(self) -> None:
        assert isinstance(self._plan, ClosedPlan)
        plan = self._plan
        end_ns = None if plan.duration_s is None else int(plan.duration_s * NS_PER_S)
        users = self._users
        for user in range(plan.users):
            task = asyncio.ensure_future(self._user_loop(user, plan, end_ns))
            users.add(task)
            task.add_done_callback(users.discard)
        try:
            # asyncio.wait, not gather: a stop cancels this driver, and must not cancel the
            # users' requests in flight with it (the grace period is theirs).
            while users:
                done, _ = await asyncio.wait(users, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if not task.cancelled() and (exc := task.exception()) is not None:
                        raise exc  # a bug in the engine: the run's caller sees it
        finally:
            for task in users - self._busy:  # thinking or parked: nothing is lost
                task.cancel()

    async def _user_loop(self, user: int, plan: ClosedPlan, end_ns: int | None) -> None:
        rng = np.random.default_rng([plan.seed, user])
        clock = self._clock
        me = asyncio.current_task()
        assert me is not None
        busy = self._busy
        while not self._stopping:
            now = clock.now_ns()
            if end_ns is not None and now >= end_ns:
                return
            if plan.max_requests is not None and self.issued >= plan.max_requests:
                return
            if self.user_limit is not None and user >= self.user_limit:
                await clock.sleep_until(now + _PARKED_NS, precise=False)  # parked by the pacer
                continue
            seq = self.issued
            self.issued += 1
            # The request runs in this user's task (a task per request costs several µs of
            # CPU): while it is in ``_busy`` a stop leaves it to finish; a cancel or the end
            # of the grace period cancels it and ``_execute`` records it as cancelled.
            busy.add(me)
            try:
                await self._execute(self._builder.build(seq, now, user))
            finally:
                busy.discard(me)
            think_s = plan.think_min_s
            if plan.think_max_s > plan.think_min_s:
                think_s = float(rng.uniform(plan.think_min_s, plan.think_max_s))
            if think_s > 0:
                wake_ns = clock.now_ns() + int(think_s * NS_PER_S)
                if end_ns is not None and wake_ns >= end_ns:
                    return  # the run ends before this user would send again
                await clock.sleep_until(wake_ns, precise=False)

    # --- sessions (semi-open) --------------------------------------------------------------

    async def _drive_sessions(self) -> None:
        assert isinstance(self._plan, SessionPlan)
        plan = self._plan
        clock = self._clock
        sessions: set[asyncio.Task[Callable[[np.random.Generator], float] | None]] = set()
        started = 0
        try:
            for arrival_ns in plan.schedule_ns:
                if plan.end_ns is not None and arrival_ns >= plan.end_ns:
                    break
                await clock.sleep_until(arrival_ns)
                index = started
                started += 1
                if len(sessions) >= plan.max_sessions:
                    self.sessions_dropped += 1
                    persona = None if plan.shape is None else plan.shape.persona_of(index)
                    self._emit_dropped(self.issued, arrival_ns, f"s{index}", persona)
                    self.issued += 1
                    continue
                task = asyncio.ensure_future(self._session(index, arrival_ns, plan))
                sessions.add(task)
                task.add_done_callback(sessions.discard)
            if sessions:
                await asyncio.wait(set(sessions))
        finally:
            for task in sessions:
                task.cancel()

    async def _drive_session_users(self) -> None:
        """Closed sessions: each user runs a session, thinks, and starts the next one."""
        assert isinstance(self._plan, SessionPlan) and self._plan.users is not None
        plan = self._plan
        count = self._plan.users
        users = [asyncio.ensure_future(self._session_user(user, plan)) for user in range(count)]
        try:
            await asyncio.gather(*users)
        finally:
            for user in users:
                user.cancel()

    async def _session_user(self, user: int, plan: SessionPlan) -> None:
        rng = np.random.default_rng([plan.seed, user, 2])
        clock = self._clock
        while not self._stopping:
            now = clock.now_ns()
            if plan.end_ns is not None and now >= plan.end_ns:
                return
            if plan.max_sessions_total is not None and (
                self._sessions_begun >= plan.max_sessions_total
            ):
                return
            index = self._sessions_begun
            self._sessions_begun += 1
            think = await self._session(index, now, plan, user=user)
            think_s = think(rng) if think is not None else 0.0
            wake_ns = clock.now_ns() + int(think_s * NS_PER_S)
            if plan.end_ns is not None and wake_ns >= plan.end_ns:
                return
            if think_s > 0:
                await clock.sleep_until(wake_ns, precise=False)

    async def _session(
        self, index: int, arrival_ns: int, plan: SessionPlan, user: int | None = None
    ) -> Callable[[np.random.Generator], float] | None:
        """Run one session's turns; returns its think-time sampler (None if it was cut)."""
        rng = np.random.default_rng([plan.seed, index, 1])
        state = SessionState(session_id=f"s{index}", index=index)
        shape = plan.shape(index, rng) if plan.shape is not None else _uniform_shape(plan, rng)
        state.persona = shape.persona
        state.context_check = shape.context_check
        if shape.context_check is not None:
            state.nonce = session_nonce(plan.seed, index)
        turns = shape.turns
        ends_ns = (
            None if shape.max_duration_s is None
            else arrival_ns + int(shape.max_duration_s * NS_PER_S)
        )  # fmt: skip
        self.sessions_started += 1
        clock = self._clock
        intended_at = arrival_ns
        for turn in range(turns):
            if state.ended or (ends_ns is not None and turn > 0 and intended_at >= ends_ns):
                break  # the flow ended the session, or its time is up: it completed
            if self._stopping or (plan.end_ns is not None and clock.now_ns() >= plan.end_ns):
                return None  # cut by the end of the run: neither completed nor failed
            seq = self.issued
            self.issued += 1
            work = self._builder.build(seq, intended_at, user, session=state, turn=turn)
            await asyncio.shield(self._spawn(work))
            state.turns_done += 1
            if state.failed:
                self.sessions_failed += 1
                return shape.think_s  # a turn failed: a real user would not go on as if answered
            think_s = shape.think_s(rng)
            intended_at = clock.now_ns() + int(think_s * NS_PER_S)
            more = turn + 1 < turns and not state.ended
            if more and (ends_ns is None or intended_at < ends_ns):
                await clock.sleep_until(intended_at, precise=False)
        self.sessions_completed += 1
        return shape.think_s

    # --- one request --------------------------------------------------------------------

    async def _execute(self, work: Work, released_at: int | None = None) -> None:
        timing = Timing(released_at=released_at)
        try:
            result = await self._client.call(work, timing, self._clock)
        except asyncio.CancelledError:
            reason = (
                "cancelled by a second interrupt"
                if self._cancelled
                else ("still in flight when the grace period ended")
            )
            result = CallResult(
                done_at=self._clock.now_ns(),
                outcome=Outcome.CANCELLED,
                error_kind=ErrorKind.CANCELLED,
                error_message=reason,
            )
        except Exception as exc:  # a client bug must not lose the record or the run
            result = CallResult(
                done_at=self._clock.now_ns(),
                outcome=Outcome.ERROR,
                error_kind=ErrorKind.CLIENT_ERROR,
                error_message=f"{type(exc).__name__}: {exc}",
            )
        self._emit(work, timing, result if work.session is None else judge(work.session, result))

    def _emit(self, work: Work, timing: Timing, result: CallResult) -> None:
        session = work.session
        outcome = result.outcome
        if session is None:
            session_id = persona = None
        else:
            session_id, persona = session.session_id, session.persona
            if outcome != _OK:
                session.failed = True
        slow = (
            work.sla_ms is not None
            and outcome == _OK
            and (result.done_at - work.intended_at) / 1e6 > work.sla_ms
        )  # an ok answer slower than its action's sla, from the intended start
        # By position, in RequestRecord's field order: this runs once per request.
        record = RequestRecord(
            work.seq, self._worker, work.action, work.intended_at, result.done_at, outcome,
            session_id, work.turn, work.user, timing.sent_at, timing.first_byte_at,
            timing.first_token_at, result.error_kind, result.error_message, result.http_status,
            result.input_tokens, result.output_tokens, result.tokens_approx, result.chunks,
            result.polls, result.itl_ms, result.phases_ms, persona, slow, result.attempts,
            result.first_error_kind, timing.released_at,
        )  # fmt: skip
        for add in self._adds:
            add(record)

    def _emit_dropped(
        self,
        seq: int,
        intended_at: int,
        session_id: str | None = None,
        persona: str | None = None,
    ) -> None:
        record = RequestRecord(
            seq=seq,
            session_id=session_id,
            persona=persona,
            worker=self._worker,
            action=self._builder.action,
            intended_at=intended_at,
            done_at=self._clock.now_ns(),
            outcome=Outcome.DROPPED,
            error_message="in-flight cap reached",
        )
        for add in self._adds:
            add(record)


def _uniform_shape(plan: SessionPlan, rng: np.random.Generator) -> SessionShape:
    """A plan without a shaper: its turn sampler and a uniform think time."""
    low, high = plan.think_min_s, plan.think_max_s

    def think(draw: np.random.Generator) -> float:
        return float(draw.uniform(low, high)) if high > low else low

    return SessionShape(turns=plan.turns(rng), think_s=think)


def on_interrupt(engine: Engine) -> Callable[[], None]:
    """A signal handler: the first interrupt stops sending, the second cancels in-flight work."""
    count = 0

    def handle() -> None:
        nonlocal count
        count += 1
        if count == 1:
            engine.stop()
        else:
            engine.cancel()

    return handle
