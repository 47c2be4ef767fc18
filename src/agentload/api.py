"""Composition root: scenario → plan → engine → sinks (run directory, aggregates, live view).

``run()`` is the one entry point the CLI and users' own code call. Everything after the run
reads only the run directory (``summarize_run_dir``).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import platform
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import yaml
from pydantic import ValidationError

from agentload import __version__
from agentload.analysis.attribution import PhaseWindows
from agentload.analysis.summary import Summary, build_summary, with_run_notes
from agentload.clients import client_for
from agentload.clients.retry import RetryingClient
from agentload.clock import NS_PER_S, MonotonicClock
from agentload.config.models import AdaptiveLoad, ClosedLoad, OpenLoad, Scenario, SessionLoad
from agentload.config.thresholds import all_thresholds
from agentload.engine import ClosedPlan, Engine, OpenPlan, RunStatus, SessionPlan, on_interrupt
from agentload.engine.adaptive import AdaptivePacer, adaptive_plan
from agentload.engine.breaker import STATUS as UNREACHABLE_STATUS
from agentload.engine.breaker import UnreachableBreaker
from agentload.engine.heap import frozen_heap, release_free_heap
from agentload.engine.sinks import BatchedSinks
from agentload.errors import RunDirError
from agentload.metrics.aggregate import RunAggregator
from agentload.metrics.window import RollingWindow
from agentload.records.rundir import (
    SCENARIO_FILE,
    SUMMARY_FILE,
    RecordReadStats,
    RunDir,
    write_json_atomic,
)
from agentload.records.samples import Sample, read_samples
from agentload.sessions import compose
from agentload.sessions.builders import RequestBuilder
from agentload.sessions.personas import SessionShaper
from agentload.slo.evaluate import Verdict
from agentload.slo.tracking import RunSlo
from agentload.telemetry.requirements import require_packages
from agentload.telemetry.runner import TelemetryRunner
from agentload.telemetry.summary import run_meta as telemetry_meta
from agentload.telemetry.summary import with_telemetry
from agentload.traffic import arrival_process, arrivals_from_spec, natural_bounds, schedule_ns

if TYPE_CHECKING:  # prometheus-client loads only with --metrics-port
    from agentload.engine.live_metrics import LiveMetrics

_TICK_S = 0.25


@dataclass(frozen=True)
class ProgressSnapshot:
    elapsed_s: float
    remaining_s: float | None
    in_flight: int
    issued: int
    totals: RunAggregator
    window: RollingWindow
    stopping: bool
    thresholds: tuple[Verdict, ...] = ()  # each threshold so far (empty without thresholds)


class Progress(Protocol):
    def update(self, snapshot: ProgressSnapshot) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    status: str  # complete | interrupted | aborted (an abort_on_fail threshold stopped it)
    summary: Summary
    aborted_by: str | None = None  # the threshold that aborted the run


def default_run_dir(scenario: Scenario, base: Path = Path("runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{stamp}-{scenario.name}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = base / f"{stamp}-{scenario.name}-{suffix}"
    return candidate


def scenario_builder(scenario: Scenario) -> RequestBuilder:
    """The request builder, or a mix/flow over the named actions, or one per persona."""
    return compose.scenario_builder(scenario)


def max_connections(scenario: Scenario) -> int:
    """At most one connection per request in flight: the cap, the users or the sessions."""
    load = scenario.load
    if isinstance(load, SessionLoad) and load.users is not None:
        return load.users
    if isinstance(load, AdaptiveLoad):
        return load.max_users
    return load.users if isinstance(load, ClosedLoad) else load.max_in_flight


def grace_s(scenario: Scenario) -> float:
    """How long in-flight requests may finish at the end. By default a little longer than the
    total timeout, so that every request ends by its own timeout rather than being cut off."""
    grace = scenario.load.grace
    return grace if grace is not None else scenario.target.timeouts.total + 1.0


def target_rate(scenario: Scenario) -> float | None:
    """The scenario's single target request rate, when it has one (not for profiles, traces
    or sessions, whose request rate follows from the answers)."""
    return scenario.load.rate if isinstance(scenario.load, OpenLoad) else None


def run(
    scenario: Scenario,
    *,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    handle_signals: bool = False,
    live_metrics: LiveMetrics | None = None,
) -> RunResult:
    """Run a scenario to the end (or until interrupted) and write its run directory.
    ``live_metrics`` (already serving) is fed every record and every tick of the run."""
    if live_metrics is not None:
        progress = _LiveProgress(progress, live_metrics)
    require_packages(scenario.telemetry)  # a missing extra: exit 2 before anything is written
    run_dir = RunDir.create(out_dir or default_run_dir(scenario))
    raise_open_files_limit(max_connections(scenario))
    # frozen_heap: no full GC pass over the start-up objects in the middle of the run.
    with frozen_heap(), asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(_run(scenario, run_dir, progress, handle_signals))


async def _run(
    scenario: Scenario, run_dir: RunDir, progress: Progress | None, handle_signals: bool
) -> RunResult:
    clock = MonotonicClock()
    meta = _meta(scenario, clock.wall_start_s)
    run_dir.write_scenario(scenario.model_dump(mode="json"))
    run_dir.write_meta(meta)
    writer = run_dir.record_writer()
    aggregator = RunAggregator()
    window = RollingWindow()
    slo = RunSlo(all_thresholds(scenario.thresholds, scenario.targets))
    phase_windows = PhaseWindows()  # latency components over time, for the bottleneck
    load = scenario.load
    client = client_for(scenario, max_connections=max_connections(scenario))
    if scenario.target.retry is not None:
        client = RetryingClient(client, scenario.target.retry, seed=scenario.seed)
    breaker = _breaker(scenario)
    pacers = AdaptivePacer.for_scenario(scenario)  # load.model adaptive: holds its target
    # Fed a batch at a time (engine/sinks.py); read only after ``batched.flush()``. The live
    # window places each record at its done_at: no clock read per request.
    batched = BatchedSinks(
        [
            *(writer, aggregator, window, phase_windows),
            *([slo] if slo.tracks_records else []),  # nothing to judge: the summary has it
        ]
    )
    engine = Engine(
        _plan(scenario),
        scenario_builder(scenario),
        client,
        clock,
        [
            batched,
            *breaker,
            *pacers,
            *([progress.metrics] if isinstance(progress, _LiveProgress) else []),
        ],
        grace_s=grace_s(scenario),
    )
    watches = [asyncio.ensure_future(b.watch(engine, clock)) for b in breaker]
    watches += [asyncio.ensure_future(p.drive(engine, clock, run_dir.path)) for p in pacers]
    loop = asyncio.get_running_loop()
    if handle_signals:
        handler = on_interrupt(engine)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, handler)
    ticker = asyncio.ensure_future(
        _tick(engine, clock, batched, writer, window, aggregator, progress, load, slo)
    )
    telemetry = TelemetryRunner(
        scenario.telemetry, clock, run_dir.path, in_flight=lambda: engine.in_flight
    )
    aggregator.allocate()  # not on the event loop mid-load (docs/schedule-lag.md)
    release_free_heap()  # after the set-up, so the load phase holds only what it uses
    # The run clock's zero is when sending begins: the set-up above is not schedule lag.
    clock.rebase()
    meta["started_at"] = datetime.fromtimestamp(clock.wall_start_s, UTC).isoformat()
    telemetry.start()  # samples on the run clock until the engine is done
    status = "failed"
    try:
        status = (await engine.run()).value
        if slo.gate.aborted is not None:
            status = "aborted"
        elif any(b.tripped for b in breaker):
            status = UNREACHABLE_STATUS
    except asyncio.CancelledError:
        status = RunStatus.INTERRUPTED.value
        raise
    finally:
        for task in (ticker, *watches):
            task.cancel()
        await asyncio.gather(ticker, *watches, return_exceptions=True)
        batched.flush()  # every record reaches the file and the totals, however the run ended
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        await telemetry.stop()
        await client.aclose()
        writer.close()
        if progress is not None:
            progress.close()
        # Whatever happened, the run directory ends consistent: summary and final status.
        # The bottleneck analysis loads now: the load phase does not hold it.
        from agentload.analysis.bottleneck import with_bottleneck

        load_window_s = (engine.sending_ended_ns or clock.now_ns()) / NS_PER_S
        summary = build_summary(
            aggregator, target_rate_per_s=target_rate(scenario), load_window_s=load_window_s
        )
        aborted = slo.gate.aborted
        meta["telemetry"] = telemetry_meta(scenario.telemetry, telemetry.notes.lines)
        samples = _samples_or_none(run_dir.path)
        summary = slo.complete(
            summary,
            aborted.expr if aborted else None,
            samples=samples,
            generator_limits=meta["telemetry"],
        )
        summary = with_telemetry(summary, run_dir.path, meta["telemetry"])
        summary = with_bottleneck(summary, phase_windows, samples, meta["telemetry"])
        write_json_atomic(run_dir.path / SUMMARY_FILE, summary.to_dict())
        ended_s = clock.wall_start_s + clock.now_ns() / NS_PER_S
        if aborted is not None:
            meta.update(aborted_by=aborted.expr, aborted_at_s=aborted.at_s)
        for b in breaker:
            meta.update(b.meta())
        for p in pacers:
            p.write_summary(run_dir.path)
            meta["adaptive"] = p.summary()
        summary = with_run_notes(summary, meta)
        write_json_atomic(run_dir.path / SUMMARY_FILE, summary.to_dict())
        meta.update(
            status=status,
            ended_at=datetime.fromtimestamp(ended_s, UTC).isoformat(),
            load_window_s=load_window_s,
            records=writer.count,
        )
        run_dir.write_meta(meta)
    from agentload.report.html import write_run_html_safely  # after the load phase

    write_run_html_safely(run_dir.path)  # report.html beside the records, for every run
    return RunResult(
        run_dir=run_dir.path,
        status=status,
        summary=summary,
        aborted_by=aborted.expr if aborted else None,
    )


class _LiveProgress:
    """The live display (if any) and the Prometheus metrics, fed by the same ticker."""

    def __init__(self, inner: Progress | None, metrics: LiveMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def update(self, snapshot: ProgressSnapshot) -> None:
        self.metrics.tick(
            elapsed_s=snapshot.elapsed_s,
            in_flight=snapshot.in_flight,
            issued=snapshot.issued,
            verdicts=snapshot.thresholds,
        )
        if self.inner is not None:
            self.inner.update(snapshot)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


async def _tick(
    engine: Engine,
    clock: MonotonicClock,
    batched: BatchedSinks,
    writer: Any,
    window: RollingWindow,
    totals: RunAggregator,
    progress: Progress | None,
    load: OpenLoad | ClosedLoad | SessionLoad | AdaptiveLoad,
    slo: RunSlo,
) -> None:
    """Flush records at least once a second, judge abort rules, and feed the live view."""
    while True:
        await asyncio.sleep(_TICK_S)
        batched.flush()  # the file, the abort rules and the live view read what came so far
        now = clock.now_ns()
        writer.flush_due(now)
        if slo.has_abort_rules and slo.gate.aborted is None and slo.check_abort(now / NS_PER_S):
            engine.stop()  # as a first Ctrl-C: in-flight requests finish, results are kept
        if progress is not None:
            elapsed_s = now / NS_PER_S
            remaining = None if load.duration is None else max(0.0, load.duration - elapsed_s)
            snapshot = ProgressSnapshot(
                elapsed_s=elapsed_s,
                remaining_s=remaining,
                in_flight=engine.in_flight,
                issued=engine.issued,
                totals=totals,
                window=window,
                stopping=remaining == 0.0,
                thresholds=tuple(slo.gate.verdicts(elapsed_s)) if slo.gate.rules else (),
            )
            try:
                progress.update(snapshot)
            except Exception as exc:  # a broken display must not stop the flushing of records
                print(f"warning: live display disabled: {exc}", file=sys.stderr)
                progress = None


def _plan(scenario: Scenario) -> OpenPlan | ClosedPlan | SessionPlan:
    load = scenario.load
    if isinstance(load, SessionLoad):
        return _session_plan(scenario, load)
    if isinstance(load, AdaptiveLoad):
        return adaptive_plan(load, scenario.seed)
    if isinstance(load, OpenLoad):
        if isinstance(load.arrival, str):
            assert load.rate is not None  # the model requires it for a named arrival
            process = arrival_process(load.arrival, load.rate, load.burstiness)
        else:
            process = arrivals_from_spec(load.arrival)
        natural_duration_s, natural_count = natural_bounds(process)
        duration_s = load.duration if load.duration is not None else natural_duration_s
        count = load.requests if load.requests is not None else natural_count
        rng = np.random.default_rng(scenario.seed)
        return OpenPlan(
            schedule_ns=schedule_ns(process, rng, duration_s=duration_s, max_count=count),
            max_in_flight=load.max_in_flight,
        )
    return ClosedPlan(
        users=load.users,
        think_min_s=load.think_time.min,
        think_max_s=load.think_time.max,
        duration_s=load.duration,
        max_requests=load.requests,
        seed=scenario.seed,
    )


def _session_plan(scenario: Scenario, load: SessionLoad) -> SessionPlan:
    """Sessions arriving by any open process, or ``users`` running them back to back."""
    schedule: Iterator[int] = iter(())
    if load.users is None:
        if isinstance(load.arrival, str):
            assert load.rate is not None  # the model requires it for a named arrival
            process = arrival_process(load.arrival, load.rate, load.burstiness)
        else:
            process = arrivals_from_spec(load.arrival)
        natural_s, natural_count = natural_bounds(process)
        rng = np.random.default_rng(scenario.seed)
        duration_s = load.duration if load.duration is not None else natural_s
        count = load.sessions if load.sessions is not None else natural_count
        schedule = schedule_ns(process, rng, duration_s=duration_s, max_count=count)
    return SessionPlan(
        schedule_ns=schedule,
        max_sessions=load.max_in_flight,
        turns=lambda _rng: 1,  # unused: the shaper draws each session's shape
        think_min_s=0.0,
        think_max_s=0.0,
        end_ns=None if load.duration is None else int(load.duration * NS_PER_S),
        seed=scenario.seed,
        shape=SessionShaper(scenario),
        users=load.users,
        max_sessions_total=load.sessions,
    )


def _meta(scenario: Scenario, wall_start_s: float) -> dict[str, Any]:
    load = scenario.load
    return {
        "schema_version": 1,
        "agentload_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "user": _user(),
        "pid": os.getpid(),
        "name": scenario.name,
        "seed": scenario.seed,
        "load_model": load.model,
        "target_rate_per_s": target_rate(scenario),
        "target_url": scenario.target.base_url,
        "protocol": scenario.target.protocol,
        "started_at": datetime.fromtimestamp(wall_start_s, UTC).isoformat(),
        "ended_at": None,
        "status": "running",
        **({"tls_verified": not scenario.target.insecure} if _is_https(scenario) else {}),
    }


def _is_https(scenario: Scenario) -> bool:
    return scenario.target.base_url.lower().startswith("https:")


def _breaker(scenario: Scenario) -> list[UnreachableBreaker]:
    """The circuit breaker for an unreachable target, when the scenario asks for one."""
    after_s = scenario.target.unreachable_abort_after
    return [] if after_s is None else [UnreachableBreaker(after_s)]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def raise_open_files_limit(connections: int) -> None:
    """Lift the soft limit on open files to the hard one: each connection is a descriptor,
    and the common soft limit (1024) is below the default in-flight cap plus overhead."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (faster timers and sockets), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return,unused-ignore]


def summarize_run_dir(path: Path) -> tuple[Summary, dict[str, Any], RecordReadStats]:
    """Recompute the summary from the records alone (what ``agentload report`` shows)."""
    from agentload.analysis.bottleneck import with_bottleneck

    run_dir = RunDir.open(path)
    meta = run_dir.read_meta()
    stats = RecordReadStats()
    aggregator = RunAggregator()
    slo = _stored_slo(run_dir.path)
    phase_windows = PhaseWindows()
    sinks = [aggregator.add, phase_windows.add, *([slo.add] if slo.tracks_records else [])]
    for record in run_dir.iter_records(stats):
        for add in sinks:
            add(record)
    rate = meta.get("target_rate_per_s")
    window = meta.get("load_window_s")
    summary = build_summary(
        aggregator,
        target_rate_per_s=float(rate) if isinstance(rate, int | float) else None,
        load_window_s=float(window) if isinstance(window, int | float) else None,
    )
    aborted_by = meta.get("aborted_by")
    samples = _samples_or_none(run_dir.path)
    summary = slo.complete(
        summary,
        aborted_by if isinstance(aborted_by, str) else None,
        samples=samples,
        generator_limits=meta.get("telemetry"),
    )
    summary = with_run_notes(summary, meta)
    summary = with_telemetry(summary, run_dir.path, meta.get("telemetry"))
    summary = with_bottleneck(summary, phase_windows, samples, meta.get("telemetry"))
    try:
        write_json_atomic(run_dir.path / SUMMARY_FILE, summary.to_dict())
    except OSError as exc:
        raise RunDirError(f"{run_dir.path}: cannot write {SUMMARY_FILE}: {exc.strerror}") from None
    return summary, meta, stats


def _samples_or_none(path: Path) -> list[Sample]:
    """The run's telemetry samples; an unreadable file is noted by ``with_telemetry``."""
    try:
        return read_samples(path)
    except RunDirError:
        return []


def _stored_slo(path: Path) -> RunSlo:
    """The thresholds of the run's own scenario.yaml (none when it is missing)."""
    try:
        data = yaml.safe_load((path / SCENARIO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunSlo(())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # YAML errors span lines; the CLI prints one
        raise RunDirError(f"{path}: cannot read {SCENARIO_FILE}: {reason[:300]}") from None
    try:
        return RunSlo.from_scenario_dict(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        raise RunDirError(f"{path}: thresholds in {SCENARIO_FILE} are invalid: {exc}") from None
