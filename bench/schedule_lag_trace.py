"""Why are the late sends of an open-loop run late? One traced run, each p99-late send explained.

    .venv/bin/python bench/schedule_lag_trace.py --rate 5000 --duration 5
    .venv/bin/python bench/schedule_lag_trace.py --rate 200 --streams --duration 5

Runs ``agentload.api.run`` in this process against ``trivial_server.py`` (or 1-second
streams from ``stream_server.py``), pinned like ``schedule_accuracy.py`` (server core 0,
client core 1), with probes installed from outside (normal runs carry none of them):

- the kernel's view of the loop thread at every scheduler sleep, timer wake-up and release:
  CPU time and run-queue wait from ``/proc/thread-self/schedstat`` and involuntary context
  switches (``getrusage(RUSAGE_THREAD)``); the wait is time the thread was runnable but
  another process (or thread) had the CPU;
- every garbage-collector pass (``gc.callbacks``), with its generation;
- the periodic work of a run: the record flush, the histogram folds, the telemetry sample
  (and its worker thread, which holds the GIL while it runs Python code);
- with ``--loop asyncio``, every loop callback longer than 0.25 ms, by name.

Each send whose scheduler lag (released − intended) is at or above the run's p99 gets its
window [intended, released] split into: run-queue wait (preempted), GC pause, CPU of the
loop thread (busy: which tagged work overlapped, else request callbacks) and the remainder
(blocked: GIL or a blocking call). The table counts late sends by their largest part.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import STREAM_SERVER, TRIVIAL_SERVER, pick_cores, server

from agentload import api
from agentload.clock import KernelTimer, MonotonicClock
from agentload.config import load_scenario
from agentload.records.rundir import RunDir

_SCHEDSTAT = os.open("/proc/thread-self/schedstat", os.O_RDONLY)  # this (the loop) thread


class Trace:
    def __init__(self) -> None:
        # Cumulative counters of the loop thread, one row per probe point.
        self.at_ns: list[int] = []
        self.cpu_ns: list[int] = []
        self.wait_ns: list[int] = []
        self.nivcsw: list[int] = []
        self.gc: list[tuple[int, int, int]] = []  # start, stop, generation
        self.work: list[tuple[int, int, str]] = []  # start, stop, what (loop thread)
        self.thread_work: list[tuple[int, int, str]] = []  # other threads (hold the GIL)
        self.fires: dict[int, int] = {}  # deadline (absolute) -> when the timer callback ran
        self._gc_start = 0

    def sample(self) -> None:
        now = time.monotonic_ns()
        on_cpu, waited, _ = os.pread(_SCHEDSTAT, 100, 0).split()
        self.at_ns.append(now)
        self.cpu_ns.append(int(on_cpu))
        self.wait_ns.append(int(waited))
        self.nivcsw.append(resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        now = time.monotonic_ns()
        if phase == "start":
            self._gc_start = now
        else:
            self.gc.append((self._gc_start, now, int(info["generation"])))

    def delta(self, series: list[int], start_ns: int, end_ns: int) -> int:
        """Growth of a cumulative series over [start, end], from the samples bracketing it."""
        i = max(0, bisect.bisect_right(self.at_ns, start_ns) - 1)
        j = min(len(self.at_ns) - 1, bisect.bisect_left(self.at_ns, end_ns))
        return series[j] - series[i]


def core_ticks(cpu: int | None) -> tuple[int, int] | None:
    """(busy, steal) clock ticks of one core since boot, from /proc/stat."""
    if cpu is None:
        return None
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name == f"cpu{cpu}":
            ticks = [int(f) for f in fields]
            return sum(ticks[:8]) - ticks[3] - ticks[4], ticks[7]
    return None


def overlap(spans: list[tuple[int, int, Any]], start_ns: int, end_ns: int) -> tuple[int, list[Any]]:
    total, names = 0, []
    for a, b, what in spans:
        if a < end_ns and b > start_ns:
            total += min(b, end_ns) - max(a, start_ns)
            names.append(what)
    return total, names


def timed(trace: Trace, name: str, fn: Callable[..., Any], *, thread: bool = False) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            (trace.thread_work if thread else trace.work).append((start, time.monotonic_ns(), name))

    return wrapper


def install(trace: Trace, loop_kind: str) -> None:
    gc.callbacks.append(trace.on_gc)
    original_sleep = MonotonicClock.sleep_until

    async def sleep_until(self: MonotonicClock, deadline_ns: int, *, precise: bool = True) -> None:
        if precise:
            trace.sample()
        await original_sleep(self, deadline_ns, precise=precise)
        if precise:
            trace.sample()

    MonotonicClock.sleep_until = sleep_until  # type: ignore[method-assign]
    original_fire = KernelTimer._fire

    def fire(self: KernelTimer) -> None:
        trace.sample()
        if self._sleepers:
            trace.fires.setdefault(self._sleepers[0][0], time.monotonic_ns())
        original_fire(self)

    KernelTimer._fire = fire  # type: ignore[method-assign]

    from agentload.metrics import aggregate, histogram
    from agentload.records import rundir, samples
    from agentload.telemetry import generator

    rundir.RecordWriter.flush = timed(trace, "record flush", rundir.RecordWriter.flush)
    samples.SampleWriter.flush = timed(trace, "telemetry flush", samples.SampleWriter.flush)
    histogram.LatencyHistogram._fold = timed(
        trace, "histogram fold", histogram.LatencyHistogram._fold
    )
    aggregate.RunAggregator._fold_full = timed(
        trace, "aggregate fold", aggregate.RunAggregator._fold_full
    )
    generator.GeneratorCollector._blocking_reads = timed(
        trace,
        "telemetry reads (thread)",
        generator.GeneratorCollector._blocking_reads,
        thread=True,
    )
    if loop_kind == "asyncio":
        api.event_loop_factory = lambda: asyncio.new_event_loop  # type: ignore[assignment]
        run_handle = asyncio.events.Handle._run

        def handle_run(self: asyncio.events.Handle) -> None:
            start = time.monotonic_ns()
            run_handle(self)
            took = time.monotonic_ns() - start
            if took > 250_000:
                cb = getattr(self, "_callback", None)
                owner = getattr(cb, "__self__", None)
                name = getattr(cb, "__qualname__", repr(cb))
                if isinstance(owner, asyncio.Task):
                    name = f"task {owner.get_coro().__qualname__}"  # type: ignore[union-attr]
                trace.work.append((start, start + took, f"callback {name}"))

        asyncio.events.Handle._run = handle_run  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--streams", action="store_true", help="1-s streams, constant arrivals")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--show", type=int, default=12, help="late episodes to print")
    args = parser.parse_args(argv)
    server_cpu, client_cpu, pin_note = pick_cores(not args.no_pin)
    script = STREAM_SERVER if args.streams else TRIVIAL_SERVER
    extra = ("--tokens", "50", "--interval-ms", "20") if args.streams else ()
    work = Path(tempfile.mkdtemp(prefix="agentload-lag-trace-"))
    trace = Trace()
    with server(script, *extra, cpu=server_cpu) as url:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        arrival = "constant" if args.streams else "poisson"
        request = (
            "{path: /v1/chat/completions, prompt_tokens: 8, max_tokens: 50, stream: true}"
            if args.streams
            else "{method: GET, path: /}"
        )
        protocol = "openai-chat" if args.streams else "http"
        scen = work / "scenario.yaml"
        scen.write_text(
            "name: lag-trace\n"
            f'target: {{base_url: "{url}", protocol: {protocol}}}\n'
            f"request: {request}\n"
            f"load: {{arrival: {arrival}, rate: {args.rate:g}/s, duration: {args.duration:g}s, "
            "max_in_flight: 2000, grace: 10s}\n"
        )
        install(trace, args.loop)
        clocks: list[MonotonicClock] = []
        original_init = MonotonicClock.__init__

        def init(self: MonotonicClock) -> None:
            original_init(self)
            clocks.append(self)

        MonotonicClock.__init__ = init  # type: ignore[method-assign]
        stat_before = core_ticks(client_cpu)
        process_before = resource.getrusage(resource.RUSAGE_SELF)
        wall_before = time.monotonic()
        result = api.run(load_scenario(scen), out_dir=work / "run")
        wall_s = time.monotonic() - wall_before
        process_after = resource.getrusage(resource.RUSAGE_SELF)
        stat_after = core_ticks(client_cpu)
    t0 = clocks[0]._t0  # the run clock's zero (rebased as sending began)
    records = [
        r
        for r in RunDir.open(result.run_dir).iter_records()
        if r.released_at is not None and r.sent_at is not None
    ]
    lags = sorted(r.released_at - r.intended_at for r in records)  # type: ignore[operator]
    p99 = lags[int(len(lags) * 0.99)]
    late = [r for r in records if r.released_at - r.intended_at >= p99]  # type: ignore[operator]
    cpu_s = (
        process_after.ru_utime
        + process_after.ru_stime
        - process_before.ru_utime
        - process_before.ru_stime
    )
    run_wait_ms = (trace.wait_ns[-1] - trace.wait_ns[0]) / 1e6
    run_cpu_ms = (trace.cpu_ns[-1] - trace.cpu_ns[0]) / 1e6
    span_ms = (trace.at_ns[-1] - trace.at_ns[0]) / 1e6
    print(
        f"{'streams' if args.streams else 'poisson'} {args.rate:g}/s for {args.duration:g} s, "
        f"{args.loop}; {pin_note}; {len(records)} sends"
    )
    print(
        f"process: {cpu_s:.2f} s CPU in {wall_s:.2f} s wall; loop thread over the load: "
        f"on CPU {run_cpu_ms / span_ms * 100:.0f}%, runnable but waiting for a CPU "
        f"{run_wait_ms / span_ms * 100:.1f}% ({run_wait_ms:.0f} ms), "
        f"involuntary switches {trace.nivcsw[-1] - trace.nivcsw[0]}"
    )
    if stat_before and stat_after:
        hz = os.sysconf("SC_CLK_TCK")
        busy_s = (stat_after[0] - stat_before[0]) / hz
        print(
            f"client core: busy {busy_s / wall_s * 100:.0f}% of the wall time, of which other "
            f"processes {max(0.0, busy_s - cpu_s) / wall_s * 100:.0f}%; hypervisor steal "
            f"{(stat_after[1] - stat_before[1]) / hz * 1000:.0f} ms"
        )
    gens = Counter(g for _, _, g in trace.gc)
    longest_gc = max(((b - a) / 1e6 for a, b, _ in trace.gc), default=0.0)
    print(f"gc passes by generation {dict(sorted(gens.items()))}, longest {longest_gc:.2f} ms")
    for a, b, g in trace.gc:
        if b - a > 1_000_000:
            print(f"  gc gen {g} {(b - a) / 1e6:.2f} ms at {(a - t0) / 1e9:.3f} s")
    print(f"first scheduler sleep at {(trace.at_ns[0] - t0) / 1e6:.2f} ms on the run clock")
    for a, b, what in trace.thread_work:
        print(f"  {what}: {(a - t0) / 1e6:.2f} to {(b - t0) / 1e6:.2f} ms")
    print(f"scheduler lag p50 {lags[len(lags) // 2] / 1e6:.3f} ms, p99 {p99 / 1e6:.3f} ms")
    # The part of each send's lag that is not run-queue wait: what the process itself spent
    # (busy loop, GC, GIL), comparable between runs with different neighbours.
    own = sorted(
        max(0, lag - trace.delta(trace.wait_ns, t0 + r.intended_at, t0 + r.released_at))  # type: ignore[operator]
        for r, lag in ((r, r.released_at - r.intended_at) for r in records)  # type: ignore[operator]
    )
    print(
        f"lag less run-queue wait (the process's own): p99 {own[int(len(own) * 0.99)] / 1e6:.3f}"
        f" ms, p99.9 {own[int(len(own) * 0.999)] / 1e6:.3f} ms"
    )
    kinds: Counter[str] = Counter()
    parts = Counter[str]()
    examples: list[str] = []
    for r in late:
        start, end = t0 + r.intended_at, t0 + r.released_at  # type: ignore[operator]
        lag = end - start
        waited = trace.delta(trace.wait_ns, start, end)
        on_cpu = trace.delta(trace.cpu_ns, start, end)
        switches = trace.delta(trace.nivcsw, start, end)
        gc_ns, _ = overlap(trace.gc, start, end)
        _, work_names = overlap(trace.work, start, end)
        _, thread_names = overlap(trace.thread_work, start, end)
        blocked = max(0, lag - waited - on_cpu)
        split = {
            "preempted (run-queue wait)"
            + (f" during {', '.join(sorted(set(thread_names)))}" if thread_names else ""): waited,
            "gc pause": gc_ns,
            "loop busy: " + (", ".join(sorted(set(work_names))) or "request callbacks"): max(
                0, on_cpu - gc_ns
            ),
            "blocked (GIL/syscall)"
            + (f" during {', '.join(sorted(set(thread_names)))}" if thread_names else ""): blocked,
        }
        main_cause = max(split, key=lambda k: split[k])
        if start < trace.at_ns[0]:  # due before the driver first slept: the run's set-up
            main_cause = "set-up: due before the scheduler's first sleep"
        kinds[main_cause] += 1
        for k, v in split.items():
            parts[k.split(":")[0].split(" during")[0]] += v
        fired = trace.fires.get(start)
        if len(examples) < args.show and (not examples or r.seq % 7 == 0):
            examples.append(
                f"  seq {r.seq:6d} at {r.intended_at / 1e9:7.3f} s lag {lag / 1e6:6.2f} ms: "
                f"waited {waited / 1e6:5.2f}, cpu {on_cpu / 1e6:5.2f}, gc {gc_ns / 1e6:4.2f}, "
                f"blocked {blocked / 1e6:5.2f}, nivcsw {switches}, "
                f"timer cb {'-' if fired is None else f'{(fired - start) / 1e6:.2f}'} ms, "
                f"work {sorted(set(work_names + thread_names)) or '-'}"
            )
    print(f"\n{len(late)} sends at or above p99, by the largest part of their lag:")
    for name, count in kinds.most_common():
        print(f"  {count:5d}  {name}")
    total = sum(parts.values()) or 1
    print(
        "share of all their lag: "
        + ", ".join(f"{k} {v / total * 100:.0f}%" for k, v in parts.most_common())
    )
    print("examples:")
    print("\n".join(examples))
    print("largest lags of the process's own (one per 10 ms), with what overlapped them:")
    shown_at: list[int] = []
    by_own = sorted(
        records,
        key=lambda r: (
            -(
                r.released_at  # type: ignore[operator]
                - r.intended_at
                - trace.delta(trace.wait_ns, t0 + r.intended_at, t0 + r.released_at)  # type: ignore[operator]
            )
        ),
    )
    for r in by_own:
        if len(shown_at) >= 5:
            break
        if any(abs(r.intended_at - at) < 10_000_000 for at in shown_at):
            continue
        shown_at.append(r.intended_at)
        start, end = t0 + r.intended_at, t0 + r.released_at  # type: ignore[operator]
        names = overlap(trace.work, start, end)[1] + overlap(trace.thread_work, start, end)[1]
        print(
            f"  at {r.intended_at / 1e9:.3f} s lag {(end - start) / 1e6:.2f} ms: cpu "
            f"{trace.delta(trace.cpu_ns, start, end) / 1e6:.2f}, wait "
            f"{trace.delta(trace.wait_ns, start, end) / 1e6:.2f}, gc "
            f"{overlap(trace.gc, start, end)[0] / 1e6:.2f} ms, {sorted(set(names)) or '-'}"
        )
    if trace.work:
        longest = sorted(trace.work, key=lambda w: w[0] - w[1])[:8]
        print("longest tagged work on the loop thread:")
        for a, b, what in longest:
            print(f"  {(b - a) / 1e6:6.2f} ms  at {(a - t0) / 1e9:7.3f} s  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
