"""The per-persona table of a sessions run (terminal report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from agentload.units import format_duration_ms


def persona_table(sessions: Mapping[str, Any]) -> Table | None:
    """One row per persona: its share of sessions, success, turns, and ok-turn latency."""
    rows = sessions.get("by_persona") or {}
    if not rows:
        return None
    table = Table(title="by persona", title_justify="left")
    columns = ("persona", "sessions", "share", "succeeded", "turns mean", "ok", "error",
               "slow", "p50", "p99")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "persona" else "right")
    for name, row in rows.items():
        turns = row["turns_mean"]
        table.add_row(
            name,
            f"{row['sessions']:,}",
            f"{row['share']:.1%}",
            f"{row['succeeded']:,}",
            "-" if turns is None else f"{turns:.1f}",
            f"{row['ok']:,}",
            f"{row['error']:,}",
            f"{row['slow']:,}",
            format_duration_ms(row["latency_p50_ms"]),
            format_duration_ms(row["latency_p99_ms"]),
        )
    return table
