"""The per-persona table in Markdown (pull-request comments) and in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from agentload.report.markdown import summary_markdown
from agentload.report.personas import persona_table

SESSIONS: dict[str, Any] = {
    "count": 4,
    "by_persona": {
        "browser": {"sessions": 3, "share": 0.75, "succeeded": 3, "turns_mean": 1.0, "ok": 3,
                    "error": 0, "slow": 1, "latency_p50_ms": 12.5, "latency_p99_ms": 40.0},
        "a|b": {"sessions": 1, "share": 0.25, "succeeded": 0, "turns_mean": None, "ok": 0,
                "error": 1, "slow": 0, "latency_p50_ms": None, "latency_p99_ms": None},
    },
}  # fmt: skip


def summary(sessions: dict[str, Any] | None) -> dict[str, Any]:
    return {"counts": {"requests": 5, "sent": 5, "ok": 4, "error": 1}, "sessions": sessions}


def test_markdown_has_one_row_per_persona() -> None:
    text = summary_markdown(summary(SESSIONS), title="run")
    assert "**By persona**" in text
    lines = text.splitlines()
    header = lines.index("| persona | sessions | share | succeeded | turns mean | ok | error | "
                         "slow | p50 | p99 |")  # fmt: skip
    assert lines[header + 2] == "| browser | 3 | 75.0% | 3 | 1.0 | 3 | 0 | 1 | 12.5ms | 40.0ms |"
    # a persona name cannot break the table; a persona without ok turns shows dashes
    assert lines[header + 3] == "| a\\|b | 1 | 25.0% | 0 | - | 0 | 1 | 0 | - | - |"


def test_no_persona_section_without_personas() -> None:
    for sessions in (None, {"count": 2, "by_persona": {}}):
        assert "By persona" not in summary_markdown(summary(sessions), title="run")


def test_terminal_and_markdown_show_the_same_rows() -> None:
    table = persona_table(SESSIONS)
    assert table is not None and persona_table({"by_persona": {}}) is None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "browser" in text and "75.0%" in text and "12.5ms" in text
