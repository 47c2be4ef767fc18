"""Live Prometheus metrics of a running test (``agentload run --metrics-port PORT``).

A record sink plus a ticker hook, on a registry of its own (several runs in one process do
not collide), served by prometheus-client's HTTP server thread on ``HOST:PORT``
(127.0.0.1 unless a host is given; ``[::1]:PORT`` for IPv6). Metric names follow Prometheus
conventions (seconds, ``_total`` counters), so dashboards aggregate them across generators:

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
import errno
import ipaddress
import socket
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
_NOT_HERE: Final = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str  # an IPv6 address without its brackets
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` (brackets as in a URL: without them
        ``::1:9464`` could be the address ``::1:9464`` or ``::1`` and a port); a bad value is a
        usage error naming the option and the form to write."""
        value = text.strip()
        if value.startswith("["):
            host, closed, rest = value[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
            if not closed or not _is_ipv6(host) or not port_text:
                raise _usage(text, "write an IPv6 host in brackets with a port, e.g. [::1]:9464")
        else:
            host, _, port_text = value.rpartition(":")
            if ":" in host:  # an IPv6 address without brackets
                ok = _is_ipv6(host) and _port(port_text) >= 0
                fix = f"[{host}]:{port_text}" if ok else f"[{value}]:9464"
                raise _usage(text, f"an IPv6 host goes in brackets with a port, e.g. {fix}")
        port = _port(port_text)
        if port < 0 or (not host and ":" in value):
            raise _usage(text, "give a port (0-65535), HOST:PORT or [IPV6]:PORT, e.g. 9464")
        return cls(host or "127.0.0.1", port)

    def address(self, port: int | None = None) -> str:
        """``HOST:PORT``, an IPv6 host in brackets; ``port`` replaces a requested port 0."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port if port is None else port}"

    def url(self, port: int | None = None) -> str:
        return f"http://{self.address(port)}/metrics"


def _port(text: str) -> int:
    """The port number, or -1 when ``text`` is not one."""
    if not text.isascii() or not text.isdigit():
        return -1
    port = int(text)
    return port if port <= 65535 else -1


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _usage(text: str, fix: str) -> UsageError:
    return UsageError(f"--metrics-port {text!r}: {fix}")


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
        except socket.gaierror as exc:
            raise UsageError(
                f"--metrics-port: cannot resolve the host {endpoint.host!r}: {exc.strerror or exc};"
                " give an address such as 127.0.0.1, 0.0.0.0 or [::1]"
            ) from None
        except OSError as exc:
            # An address this machine does not have (or IPv6 switched off) is not fixed by
            # another port.
            fix = "an address of this machine" if exc.errno in _NOT_HERE else "another port"
            raise UsageError(
                f"--metrics-port {endpoint.address()}: cannot listen: "
                f"{exc.strerror or exc}; choose {fix}"
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
