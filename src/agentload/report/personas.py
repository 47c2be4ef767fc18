"""The per-persona table of a sessions run: one row builder for the terminal and Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from agentload.units import format_duration_ms

PERSONA_COLUMNS = ("persona", "sessions", "share", "succeeded", "turns mean", "ok", "error",
                   "slow", "p50", "p99")  # fmt: skip


def persona_rows(sessions: Mapping[str, Any] | None) -> list[tuple[str, ...]]:
    """One row per persona (``PERSONA_COLUMNS``): its share of sessions, success, turns, and
    ok-turn latency; none when the run had no personas."""
    rows = (sessions or {}).get("by_persona") or {}
    table: list[tuple[str, ...]] = []
    for name, row in rows.items():
        turns = row["turns_mean"]
        table.append(
            (
                str(name),
                f"{row['sessions']:,}",
                f"{row['share']:.1%}",
                f"{row['succeeded']:,}",
                "-" if turns is None else f"{turns:.1f}",
                f"{row['ok']:,}",
                f"{row['error']:,}",
                f"{row['slow']:,}",
                _ms(row["latency_p50_ms"]),
                _ms(row["latency_p99_ms"]),
            )
        )
    return table


def persona_table(sessions: Mapping[str, Any]) -> Table | None:
    rows = persona_rows(sessions)
    if not rows:
        return None
    table = Table(title="by persona", title_justify="left")
    for name in PERSONA_COLUMNS:
        table.add_column(name, justify="left" if name == "persona" else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _ms(value: object) -> str:
    return format_duration_ms(value) if isinstance(value, int | float) else "-"
