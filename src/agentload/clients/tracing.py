"""Client-side phases of a request, timed through aiohttp's tracing hooks.

With ``target.client_phases: true`` (aiohttp transport), each record gets, in ``phases_ms``:

* ``client.pool_wait``: waiting for a free connection (all ``max_connections`` were busy);
* ``client.dns``: resolving the host name (a new connection to a name not in the cache;
  an IP address needs none);
* ``client.connect``: opening the connection, TCP and TLS handshakes, DNS excluded;
* ``client.first_byte``: from the request head written to the response head received (the
  server's time plus the network's round trip).

A phase that did not happen is absent: a reused keep-alive connection has no ``client.dns``
nor ``client.connect``. The hooks are a handful of coroutine calls per request, so they
are off unless asked for.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp

PREFIX = "client."


class ClientPhases:
    """One request's timestamps (``perf_counter`` seconds), filled in by the trace hooks."""

    __slots__ = (
        "connect_end",
        "connect_start",
        "dns_end",
        "dns_start",
        "headers_sent",
        "queued_end",
        "queued_start",
        "response_head",
    )

    def __init__(self) -> None:
        self.queued_start: float | None = None
        self.queued_end: float | None = None
        self.connect_start: float | None = None
        self.connect_end: float | None = None
        self.dns_start: float | None = None
        self.dns_end: float | None = None
        self.headers_sent: float | None = None
        self.response_head: float | None = None

    def phases_ms(self) -> dict[str, float]:
        phases: dict[str, float] = {}
        _put(phases, "pool_wait", self.queued_start, self.queued_end)
        dns = _put(phases, "dns", self.dns_start, self.dns_end)
        connect = _span(self.connect_start, self.connect_end)
        if connect is not None:
            phases[PREFIX + "connect"] = max(0.0, connect - (dns or 0.0))
        _put(phases, "first_byte", self.headers_sent, self.response_head)
        return phases


def _span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start) * 1000.0


def _put(
    phases: dict[str, float], name: str, start: float | None, end: float | None
) -> float | None:
    value = _span(start, end)
    if value is not None:
        phases[PREFIX + name] = value
    return value


def _stamp(attribute: str) -> Any:
    async def hook(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
        phases = context.trace_request_ctx
        if isinstance(phases, ClientPhases):
            setattr(phases, attribute, time.perf_counter())  # uvloop's clock has 1 ms steps

    return hook


def phase_trace_config() -> aiohttp.TraceConfig:
    """A TraceConfig that stamps a ``ClientPhases`` passed as ``trace_request_ctx``."""
    config = aiohttp.TraceConfig()
    hooks = (
        (config.on_connection_queued_start, "queued_start"),
        (config.on_connection_queued_end, "queued_end"),
        (config.on_connection_create_start, "connect_start"),
        (config.on_connection_create_end, "connect_end"),
        (config.on_dns_resolvehost_start, "dns_start"),
        (config.on_dns_resolvehost_end, "dns_end"),
        (config.on_request_headers_sent, "headers_sent"),
        (config.on_request_end, "response_head"),
    )
    for signal, attribute in hooks:
        signal.append(_stamp(attribute))
    return config
