"""Prometheus collector: scrape a ``/metrics`` URL, keep selected series, recognise servers.

What is kept, each under a predictable name (collector ``prometheus``, or the configured
``name``):

* a gauge (or untyped) ``NAME``: ``NAME``, summed over its label sets;
* a counter ``NAME`` (``# TYPE counter``, or a name ending in ``_total``): ``NAME.per_s``,
  the rate since the previous scrape (none on the first scrape and after a reset);
* a histogram ``NAME``: ``NAME.p50``, ``NAME.p90``, ``NAME.p99`` (of the observations made
  since the previous scrape, in the metric's own unit), ``NAME.mean`` and ``NAME.count_per_s``.

A selector ``NAME{label="value",...}`` keeps only the label sets that match and names its
series with the selector as written (``agentload_agent_phase_seconds{phase="decode"}.p99``).

Recognised inference-server gauges are kept without being asked for, under their raw names
and under the normalised aliases in ``ALIASES`` (the first one present wins):
``server.queue_length``, ``server.running``, ``server.kv_cache_usage_ratio`` (0..1).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from agentload.config.telemetry import PrometheusTelemetry
from agentload.telemetry.base import Notes, Rates
from agentload.telemetry.prometheus_text import (
    Exposition,
    histogram_quantile,
    parse_exposition,
    parse_labels,
)

NAME = "prometheus"
QUANTILES: Mapping[str, float] = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
ALIASES: Mapping[str, tuple[str, ...]] = {
    "server.queue_length": (
        "vllm:num_requests_waiting", "tgi_queue_size", "sglang:num_queue_reqs",
        "agentload_agent_engine_queue_depth",
    ),
    "server.running": (
        "vllm:num_requests_running", "tgi_batch_current_size", "sglang:num_running_reqs",
        "agentload_agent_engine_running_batch",
    ),
    "server.kv_cache_usage_ratio": (  # vLLM's *_perc gauges are fractions of 1 despite the name
        "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage",
        "agentload_agent_engine_kv_cache_usage_ratio",
    ),
}  # fmt: skip
_SELECTOR = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?$")
_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Selector:
    text: str  # as written: the series name prefix
    name: str
    labels: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> Selector | None:
        match = _SELECTOR.match(text.strip())
        if match is None:
            return None
        labels = parse_labels(match.group(2) or "")
        return None if labels is None else cls(text.strip(), match.group(1), labels)

    def matches(self, labels: tuple[tuple[str, str], ...]) -> bool:
        return all(pair in labels for pair in self.labels)


class SeriesExtractor:
    """Turns successive scrapes into series values; keeps counters and buckets between them."""

    def __init__(self, selectors: tuple[Selector, ...]) -> None:
        recognised = {raw for names in ALIASES.values() for raw in names}
        chosen = {s.text: s for s in selectors}
        for raw in sorted(recognised - set(chosen)):
            chosen[raw] = Selector(raw, raw, ())
        self._selectors = tuple(chosen.values())
        self._rates = Rates()
        self._buckets: dict[str, tuple[dict[float, float], float, float]] = {}

    def extract(self, exposition: Exposition, at_s: float) -> dict[str, float]:
        values: dict[str, float] = {}
        for selector in self._selectors:
            kind = _kind(exposition, selector.name)
            if kind == "histogram":
                self._histogram(values, exposition, selector, at_s)
                continue
            total = _sum(exposition, selector.name, selector)
            if total is None and not selector.name.endswith("_total") and kind == "counter":
                total = _sum(exposition, selector.name + "_total", selector)
            if total is None:
                continue
            if kind == "counter":
                rate = self._rates.rate(selector.text, total, at_s)
                if rate is not None:
                    values[selector.text + ".per_s"] = rate
            else:
                values[selector.text] = total
        for alias, names in ALIASES.items():
            for raw in names:
                if raw in values:
                    values[alias] = values[raw]
                    break
        return values

    def _histogram(
        self, values: dict[str, float], exposition: Exposition, sel: Selector, at_s: float
    ) -> None:
        buckets: dict[float, float] = {}
        count = total = 0.0
        for sample in exposition.samples:
            if not sample.name.startswith(sel.name) or not sel.matches(sample.labels):
                continue
            suffix = sample.name[len(sel.name) :]
            if suffix == "_bucket":
                le = dict(sample.labels).get("le")
                bound = None if le is None else _float(le)
                if bound is not None:
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif suffix == "_count":
                count += sample.value
            elif suffix == "_sum":
                total += sample.value
        if not buckets:
            return
        previous = self._buckets.get(sel.text)
        self._buckets[sel.text] = (buckets, count, total)
        rate = self._rates.rate(sel.text + "#count", count, at_s)
        if previous is None or rate is None:
            return  # only the observations of one interval are summarised
        last_buckets, last_count, last_total = previous
        delta = [(b, c - last_buckets.get(b, 0.0)) for b, c in buckets.items()]
        values[sel.text + ".count_per_s"] = rate
        observed = count - last_count
        if observed <= 0:
            return
        values[sel.text + ".mean"] = (total - last_total) / observed
        for label, q in QUANTILES.items():
            quantile = histogram_quantile(q, delta)
            if quantile is not None and math.isfinite(quantile):
                values[f"{sel.text}.{label}"] = quantile


def _kind(exposition: Exposition, name: str) -> str:
    declared = exposition.types.get(name) or exposition.types.get(name + "_total")
    if declared is not None:
        return declared
    return "counter" if name.endswith("_total") else "gauge"


def _sum(exposition: Exposition, name: str, selector: Selector) -> float | None:
    found = [s.value for s in exposition.samples if s.name == name and selector.matches(s.labels)]
    finite = [v for v in found if math.isfinite(v)]
    return sum(finite) if finite else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class PrometheusCollector:
    def __init__(self, config: PrometheusTelemetry, notes: Notes, name: str = NAME) -> None:
        self.name = name
        self._config = config
        self._notes = notes
        selectors: list[Selector] = []
        for text in config.series:
            selector = Selector.parse(text)
            if selector is None:
                notes.add(f"{name}: cannot read series selector {text!r}; it is skipped")
            else:
                selectors.append(selector)
        self._extractor = SeriesExtractor(tuple(selectors))
        self._session: aiohttp.ClientSession | None = None

    async def sample(self) -> dict[str, float]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.timeout)
            )
        try:
            async with self._session.get(self._config.url) as response:
                if response.status != 200:
                    self._notes.add(
                        f"{self.name}: {self._config.url} answered {response.status}",
                        key=f"{self.name}:scrape",
                    )
                    return {}
                body = await response.content.read(_MAX_BODY_BYTES)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            self._notes.add(
                f"{self.name}: cannot scrape {self._config.url}: {reason}",
                key=f"{self.name}:scrape",
            )
            return {}
        at_s = time.monotonic()
        text = body.decode("utf-8", "replace")
        exposition = await asyncio.to_thread(parse_exposition, text)
        return self._extractor.extract(exposition, at_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
