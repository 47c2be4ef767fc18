"""Redis collector: ``INFO`` statistics and a ``PING`` round trip (redis-py's asyncio client).

Series (collector ``redis``): ``redis.ops_per_s`` (commands processed per second since the
previous sample), ``redis.used_memory_bytes``, ``redis.evicted_keys_per_s``,
``redis.connected_clients``, ``redis.keyspace_hits_per_s``, ``redis.keyspace_misses_per_s``
and ``redis.latency_ms`` (one ``PING`` round trip as this process sees it, network included).
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentload.config.telemetry import RedisTelemetry
from agentload.telemetry.base import Notes, Rates

NAME = "redis"
_GAUGES = {"used_memory": "redis.used_memory_bytes", "connected_clients": "redis.connected_clients"}
_COUNTERS = {
    "total_commands_processed": "redis.ops_per_s",
    "evicted_keys": "redis.evicted_keys_per_s",
    "keyspace_hits": "redis.keyspace_hits_per_s",
    "keyspace_misses": "redis.keyspace_misses_per_s",
}


def info_values(info: dict[str, Any], at_s: float, rates: Rates) -> dict[str, float]:
    """The series of one ``INFO`` answer; counters become rates through ``rates``."""
    values: dict[str, float] = {}
    for field, series in _GAUGES.items():
        number = _number(info.get(field))
        if number is not None:
            values[series] = number
    for field, series in _COUNTERS.items():
        number = _number(info.get(field))
        if number is not None:
            rate = rates.rate(series, number, at_s)
            if rate is not None:
                values[series] = rate
    return values


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class RedisCollector:
    name = NAME

    def __init__(self, config: RedisTelemetry, notes: Notes) -> None:
        self._config = config
        self._notes = notes
        self._rates = Rates()
        self._client: aioredis.Redis | None = None

    async def sample(self) -> dict[str, float]:
        if self._client is None:
            timeout = self._config.timeout
            self._client = aioredis.Redis.from_url(
                self._config.url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        try:
            began = time.perf_counter()
            await self._client.ping()
            latency_ms = (time.perf_counter() - began) * 1000
            info = await self._client.info()
        except (RedisError, OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            self._notes.add(f"redis: cannot read {self._config.url}: {reason}", key="redis")
            return {}
        values = info_values(info, time.monotonic(), self._rates)
        values["redis.latency_ms"] = latency_ms
        return values

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
