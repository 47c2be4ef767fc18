"""The scenario's ``telemetry`` section: which collectors sample during a run, and how often.

::

    telemetry:
      interval: 1s                  # one sample per collector per interval, on the run clock
      host: {processes: [uvicorn, 1234]}   # names (substring of the command line) or PIDs
      gpu: {}                       # NVML; absent NVML is a warning, not an error
      prometheus:
        - url: http://127.0.0.1:8000/metrics
          series: [vllm:num_requests_waiting]   # empty: only the recognised server series
      redis: {url: redis://127.0.0.1:6379/0}
      generator: {}                 # on by default; `generator: null` turns it off

A collector is on when its key is present (``host: {}``); only ``generator`` is on by
default, since the validity of the load generator is part of every result. Series names are
listed in docs/telemetry.md.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from agentload.config.fields import DurationS, Strict


def _check_http_url(value: str) -> str:
    try:
        url = urlsplit(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"{value!r}: write it as http(s)://host:port/metrics")
    return value


def _check_redis_url(value: str) -> str:
    try:
        url = urlsplit(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme not in ("redis", "rediss", "unix") or not (url.hostname or url.path):
        raise ValueError(f"{value!r}: write it as redis://host:port/db")
    return value


class HostTelemetry(Strict):
    processes: tuple[str | int, ...] = Field(
        (), description="processes to follow: a PID, or a name matched in the command line"
    )


class GpuTelemetry(Strict):
    devices: tuple[int, ...] | None = Field(None, description="GPU indices (default: all)")


class PrometheusTelemetry(Strict):
    url: Annotated[str, AfterValidator(_check_http_url)] = Field(
        description="a /metrics URL, e.g. http://127.0.0.1:8000/metrics"
    )
    series: tuple[str, ...] = Field(
        (), description="metric names to keep besides the recognised inference-server ones"
    )
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="collector name in telemetry.jsonl (default: prometheus, prometheus2, ...)",
    )
    timeout: DurationS = Field(2.0, gt=0, le=60, description="per scrape")


class RedisTelemetry(Strict):
    url: Annotated[str, AfterValidator(_check_redis_url)] = Field(
        description="e.g. redis://127.0.0.1:6379/0"
    )
    timeout: DurationS = Field(2.0, gt=0, le=60, description="per INFO and PING")


class GeneratorTelemetry(Strict):
    cpu_saturated_percent: float = Field(
        90.0, gt=0, le=100, description="process CPU (percent of one core) counted as saturated"
    )
    loop_lag_limit_ms: float = Field(
        50.0, gt=0, description="event-loop lag above which the generator counts as saturated"
    )


class TelemetryConfig(Strict):
    interval: DurationS = Field(1.0, ge=0.05, le=3600, description="time between samples")
    host: HostTelemetry | None = None
    gpu: GpuTelemetry | None = None
    prometheus: tuple[PrometheusTelemetry, ...] = ()
    redis: RedisTelemetry | None = None
    generator: GeneratorTelemetry | None = GeneratorTelemetry()
