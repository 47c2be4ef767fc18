"""report.html tables of a sessions run: per persona and per turn index (from summary.json's
``sessions`` block, so the page and the terminal report agree on every number)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentload.report.html_page import table
from agentload.units import format_duration_ms


def _ms(value: object) -> str:
    return format_duration_ms(value) if isinstance(value, int | float) else "-"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def persona_table(sessions: Mapping[str, Any] | None) -> str:
    """One row per persona; empty when the run had no personas."""
    rows = (sessions or {}).get("by_persona") or {}
    if not isinstance(rows, Mapping) or not rows:
        return ""
    body = []
    for name, row in rows.items():
        turns = row.get("turns_mean")
        share = row.get("share")
        body.append(
            [
                name,
                _count(row.get("sessions")),
                "-" if not isinstance(share, int | float) else f"{share:.1%}",
                _count(row.get("succeeded")),
                "-" if not isinstance(turns, int | float) else f"{turns:.1f}",
                _count(row.get("ok")),
                _count(row.get("error")),
                _count(row.get("slow")),
                _ms(row.get("latency_p50_ms")),
                _ms(row.get("latency_p99_ms")),
            ]
        )
    headers = ("persona", "sessions", "share", "succeeded", "turns mean", "ok turns",
               "error turns", "slow turns", "p50", "p99")  # fmt: skip
    return f"<h2>Per persona</h2>{table(headers, body)}"


def turn_table(sessions: Mapping[str, Any] | None) -> str:
    """Latency by turn index (ok turns): how a conversation slows as its context grows."""
    rows = (sessions or {}).get("by_turn") or []
    if not isinstance(rows, list) or not rows:
        return ""
    body = [
        [
            str(row.get("turn", "-")),
            _count(row.get("ok")),
            _ms(row.get("latency_p50_ms")),
            _ms(row.get("latency_p99_ms")),
            _ms(row.get("ttft_p50_ms")),
            "-"
            if not isinstance(row.get("input_tokens_mean"), int | float)
            else f"{row['input_tokens_mean']:,.0f}",
        ]
        for row in rows
        if isinstance(row, Mapping)
    ]
    headers = ("turn", "ok", "latency p50", "latency p99", "TTFT p50", "input tokens mean")
    note = (
        '<p class="note">Turn 0 is the first turn of a session; turns past 100 share the '
        "last row.</p>"
    )
    return f"<h2>Per turn (sessions)</h2>{table(headers, body)}{note}"


def sessions_tables(summary: Mapping[str, Any]) -> str:
    sessions = summary.get("sessions")
    if not isinstance(sessions, Mapping):
        return ""
    return persona_table(sessions) + turn_table(sessions)
