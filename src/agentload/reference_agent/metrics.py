"""Prometheus metrics of one agent app, served at ``/metrics``.

Each app has a registry of its own, so two apps in one process (tests) never share counts.
Engine state (queue depth, running batch, KV-cache use, tokens generated) is read from the
engine when scraped rather than mirrored, so it can never drift from the engine's own
numbers. Latencies (phases, store, tools) come from ``AgentRunner``'s hooks, once per timed
operation; how turns end (ok or the failure kind, lost context) from their events.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agentload.reference_agent.inference import InferenceEngine
from agentload.reference_agent.turn import Done, Failed, TurnEvent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_P = "agentload_agent_"
_MS_PER_S = 1000.0
# Seconds. Phases span queueing under overload (tens of seconds) down to a 1 ms prefill.
_PHASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# A store round trip is sub-millisecond in memory and a few ms over a network.
_STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)
_TOOL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_STORE_PHASES = {"store_read": "read", "store_write": "write"}


class AgentMetrics:
    """The app's instruments; ``render`` gives the Prometheus text exposition."""

    def __init__(self, engine: InferenceEngine, store: object = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            f"{_P}requests", "HTTP requests answered, by route, method and status.",
            ["endpoint", "method", "status"], registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            f"{_P}request_seconds", "Time from request to the end of the response, by route.",
            ["endpoint"], buckets=_PHASE_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            f"{_P}requests_in_flight", "HTTP requests being answered.", registry=r
        )
        self.phase_seconds = Histogram(
            f"{_P}phase_seconds", "Time per phase of an agent turn (the Server-Timing phases).",
            ["phase"], buckets=_PHASE_BUCKETS, registry=r,
        )  # fmt: skip
        self.store_seconds = Histogram(
            f"{_P}store_latency_seconds", "Context-store latency per turn, by operation.",
            ["op"], buckets=_STORE_BUCKETS, registry=r,
        )  # fmt: skip
        self.tool_seconds = Histogram(
            f"{_P}tool_latency_seconds", "Tool-call latency, by tool and outcome.",
            ["tool", "outcome"], buckets=_TOOL_BUCKETS, registry=r,
        )  # fmt: skip
        self.turns = Counter(
            f"{_P}turns", "Agent turns finished, by outcome (ok or the failure kind).",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.context_lost = Counter(
            f"{_P}context_lost", "Turns whose session history had been evicted.", registry=r
        )
        self.faults = Counter(
            f"{_P}faults_injected", "Faults injected on purpose, by kind.", ["kind"], registry=r
        )
        r.register(_EngineCollector(engine))
        if store is not None:
            r.register(_StoreCollector(store))

    def on_phase(self, phase: str, ms: float) -> None:
        """``AgentRunner``'s hook: one timed operation (a store call, an inference's queue,
        prefill and decode, a tool call, a turn's total)."""
        self.phase_seconds.labels(phase).observe(ms / _MS_PER_S)
        if (op := _STORE_PHASES.get(phase)) is not None:
            self.store_seconds.labels(op).observe(ms / _MS_PER_S)

    def on_tool(self, name: str, ms: float, ok: bool) -> None:
        """``AgentRunner``'s hook: one tool call."""
        self.tool_seconds.labels(name, "ok" if ok else "error").observe(ms / _MS_PER_S)

    def observe(self, event: TurnEvent) -> None:
        """Feed one turn event: how turns end (latencies come from the hooks above)."""
        if isinstance(event, Done):
            self.turns.labels("ok").inc()
            if event.context_lost:
                self.context_lost.inc()
        elif isinstance(event, Failed):
            self.turns.labels(event.kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    """Reads the engine's gauges at scrape time."""

    def __init__(self, engine: InferenceEngine, store: object = None) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        g = self._engine.gauges()
        yield GaugeMetricFamily(
            f"{_P}engine_queue_depth", "Requests waiting for a batch slot.", value=g.queue_depth
        )
        yield GaugeMetricFamily(
            f"{_P}engine_running_batch", "Sequences in the current decode batch.", value=g.running
        )
        yield GaugeMetricFamily(
            f"{_P}engine_kv_cache_tokens",
            "Tokens held in the KV cache by running sequences.",
            value=g.kv_tokens,
        )
        if g.kv_budget_tokens > 0:  # 0: the engine does not model a budget
            yield GaugeMetricFamily(
                f"{_P}engine_kv_cache_budget_tokens",
                "The KV cache's capacity in tokens.",
                value=g.kv_budget_tokens,
            )
            yield GaugeMetricFamily(
                f"{_P}engine_kv_cache_usage_ratio",
                "KV-cache tokens held or reserved / the budget.",
                value=max(g.kv_tokens, g.kv_reserved_tokens) / g.kv_budget_tokens,
            )
        yield CounterMetricFamily(
            f"{_P}engine_tokens_generated",
            "Output tokens decoded (rate() of it is tokens/s).",
            value=g.tokens_generated,
        )
        yield CounterMetricFamily(
            f"{_P}engine_steps", "Scheduler steps (prefill + decode) run.", value=g.steps
        )
        yield CounterMetricFamily(
            f"{_P}engine_requests_finished",
            "Generations that ran to their end.",
            value=g.requests_finished,
        )
        yield CounterMetricFamily(
            f"{_P}engine_tokens_prefilled",
            "Prompt tokens run through prefill, recomputation included.",
            value=g.tokens_prefilled,
        )
        yield CounterMetricFamily(
            f"{_P}engine_preemptions", "Sequences evicted to be recomputed.", value=g.preemptions
        )
        yield CounterMetricFamily(
            f"{_P}engine_model_oom", "Requests failed with model_oom.", value=g.ooms
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())  # values come from the engine only at scrape time


class _StoreCollector(Collector):
    """Sessions held and evicted, for stores that count them (the in-memory LRU does)."""

    def __init__(self, store: object) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        sessions = getattr(self._store, "sessions", None)
        if isinstance(sessions, int):
            yield GaugeMetricFamily(f"{_P}store_sessions", "Sessions held.", value=sessions)
        evictions = getattr(self._store, "evictions", None)
        if isinstance(evictions, int):
            yield CounterMetricFamily(
                f"{_P}store_evictions",
                "Sessions evicted to make room (their next turn has lost its context).",
                value=evictions,
            )

    def describe(self) -> Iterator[Metric]:
        return iter(())
