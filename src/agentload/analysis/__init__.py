"""Analysis of a finished run: the summary and its validity warnings."""

from agentload.analysis.summary import (
    SCHEMA_VERSION,
    ActionStats,
    MetricStats,
    Summary,
    TokenStats,
    build_summary,
    summarize,
)

__all__ = [
    "SCHEMA_VERSION",
    "ActionStats",
    "MetricStats",
    "Summary",
    "TokenStats",
    "build_summary",
    "summarize",
]
