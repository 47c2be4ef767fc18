"""Mergeable HDR histograms, the run aggregator and the rolling window for the live view."""

from agentload.metrics.aggregate import (
    METRIC_NAMES,
    ActionTotals,
    RunAggregator,
    output_tokens_per_s,
)
from agentload.metrics.histogram import ExactStats, LatencyHistogram
from agentload.metrics.window import RollingWindow, WindowSnapshot

__all__ = [
    "METRIC_NAMES",
    "ActionTotals",
    "ExactStats",
    "LatencyHistogram",
    "RollingWindow",
    "RunAggregator",
    "WindowSnapshot",
    "output_tokens_per_s",
]
