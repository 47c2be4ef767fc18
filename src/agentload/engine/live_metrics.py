"""Live Prometheus metrics of a running test (``agentload run --metrics-port PORT``).

A record sink plus a ticker hook, on a registry of its own (several runs in one process do
not collide), served by prometheus-client's HTTP server thread on ``HOST:PORT``
(127.0.0.1 unless a host is given). Metric names follow Prometheus conventions (seconds,
``_total`` counters), so dashboards aggregate them across generators:

    agentload_requests_total{action, outcome, error_kind}   counter; error_kind "" when ok
    agentload_request_latency_seconds{action}               histogram, ok requests, from the
                                                             intended start (as the summary)
    agentload_ttft_seconds{action}                          histogram, time to first token
    agentload_in_flight                                     gauge
    agentload_achieved_rate_per_second                      gauge, sends in the last second
    agentload_elapsed_seconds                               gauge, run clock
    agentload_threshold_passing{threshold}                  gauge: 1 pass, 0 fail, -1 no data
    agentload_run_info{name, protocol}                      gauge, always 1

Buckets are fixed (``LATENCY_BUCKETS_S``, 1 ms to 120 s, about x2 apart) so that histograms
of several generators or runs add up bucket by bucket.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from agentload.errors import UsageError
from agentload.records.record import Outcome, RequestRecord
from agentload.slo.evaluate import Verdict

LATENCY_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip
_RATE_WINDOW_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``PORT`` or ``HOST:PORT``; a bad value is a usage error naming the option."""
        host, sep, port_text = text.rpartition(":")
        try:
            port = int(port_text)
        except ValueError:
            port = -1
        if not 0 <= port <= 65535 or (sep and not host):
            raise UsageError(
                f"--metrics-port {text!r}: give a port (0-65535) or HOST:PORT, e.g. 9464"
            )
        return cls(host or "127.0.0.1", port)


class LiveMetrics:
    """Updated by the engine (``add``) and the run's ticker (``tick``); read by scrapes."""

    def __init__(self, *, name: str, protocol: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "agentload_requests",
            "Requests that finished, by outcome and error kind.",
            ("action", "outcome", "error_kind"),
            registry=r,
        )
        self._latency = Histogram(
            "agentload_request_latency_seconds",
            "Latency of ok requests from the intended start (no coordinated omission).",
            ("action",),
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self._ttft = Histogram(
            "agentload_ttft_seconds",
            "Time to first token from the intended start, ok streamed requests.",
            ("action",),
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self._in_flight = Gauge("agentload_in_flight", "Requests in flight.", registry=r)
        self._rate = Gauge(
            "agentload_achieved_rate_per_second", "Requests sent in the last second.", registry=r
        )
        self._elapsed = Gauge("agentload_elapsed_seconds", "Run clock.", registry=r)
        self._thresholds = Gauge(
            "agentload_threshold_passing",
            "Each threshold so far: 1 passing, 0 failing, -1 no data yet.",
            ("threshold",),
            registry=r,
        )
        info = Gauge("agentload_run_info", "The run.", ("name", "protocol"), registry=r)
        info.labels(name=name, protocol=protocol).set(1)
        self._sends: collections.deque[tuple[float, int]] = collections.deque()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def add(self, record: RequestRecord) -> None:
        kind = "" if record.error_kind is None else record.error_kind.value
        self._requests.labels(record.action, record.outcome.value, kind).inc()
        if record.outcome is Outcome.OK:
            if (latency_ms := record.latency_ms) is not None:
                self._latency.labels(record.action).observe(latency_ms / 1000)
            if (ttft_ms := record.ttft_ms) is not None:
                self._ttft.labels(record.action).observe(ttft_ms / 1000)

    def tick(
        self, *, elapsed_s: float, in_flight: int, issued: int, verdicts: Iterable[Verdict] = ()
    ) -> None:
        """Called on the run's ticker. ``issued``: requests sent so far (in flight or done)."""
        self._elapsed.set(elapsed_s)
        self._in_flight.set(in_flight)
        self._sends.append((elapsed_s, issued))
        while len(self._sends) > 2 and self._sends[1][0] <= elapsed_s - _RATE_WINDOW_S:
            self._sends.popleft()
        first_s, first_issued = self._sends[0]
        if elapsed_s > first_s:
            self._rate.set((issued - first_issued) / (elapsed_s - first_s))
        for verdict in verdicts:
            value = -1 if verdict.ok is None else int(verdict.ok)
            self._thresholds.labels(verdict.expr).set(value)

    def serve(self, endpoint: Endpoint) -> int:
        """Start the HTTP server; returns the port (useful with port 0)."""
        try:
            server, thread = start_http_server(
                endpoint.port, addr=endpoint.host, registry=self.registry
            )
        except OSError as exc:
            raise UsageError(
                f"--metrics-port {endpoint.host}:{endpoint.port}: cannot listen: "
                f"{exc.strerror or exc}; choose another port"
            ) from None
        self._server, self._thread = server, thread
        self.port = int(server.server_address[1])
        return self.port

    def close(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()
            server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
