"""report.html per-persona and per-turn tables, from summary.json's sessions block."""

from __future__ import annotations

import re

from agentload.report.html_tables import persona_table, sessions_tables, turn_table

SESSIONS = {
    "count": 10,
    "by_turn": [
        {"turn": 0, "ok": 10, "latency_p50_ms": 40.0, "latency_p99_ms": 90.0,
         "ttft_p50_ms": 12.5, "input_tokens_mean": 210.0},
        {"turn": 1, "ok": 8, "latency_p50_ms": 55.0, "latency_p99_ms": 130.0,
         "ttft_p50_ms": None, "input_tokens_mean": None},
    ],
    "by_persona": {
        "browser <b>": {"sessions": 7, "share": 0.7, "succeeded": 6, "turns_mean": 2.5,
                        "ok": 16, "error": 1, "slow": 0, "latency_p50_ms": 44.0,
                        "latency_p99_ms": 120.0},
        "buyer": {"sessions": 3, "share": 0.3, "succeeded": 3, "turns_mean": None, "ok": 2,
                  "error": 0, "slow": 1, "latency_p50_ms": None, "latency_p99_ms": None},
    },
}  # fmt: skip


def cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows if "<td" in row]


def test_persona_rows_are_escaped_and_complete() -> None:
    html = persona_table(SESSIONS)
    assert html.startswith("<h2>Per persona</h2>")
    rows = cells(html)
    assert rows[0][:5] == ["browser &lt;b&gt;", "7", "70.0%", "6", "2.5"]
    assert rows[1][0] == "buyer" and rows[1][4] == "-" and rows[1][-1] == "-"
    assert "<b>" not in html


def test_turn_rows_and_missing_values() -> None:
    rows = cells(turn_table(SESSIONS))
    assert [r[0] for r in rows] == ["0", "1"]
    assert rows[0][1] == "10" and rows[0][-1] == "210"
    assert rows[1][4] == "-" and rows[1][5] == "-"


def test_runs_without_sessions_or_personas_have_no_tables() -> None:
    assert sessions_tables({"sessions": None}) == ""
    assert sessions_tables({}) == ""
    only_turns = sessions_tables({"sessions": {**SESSIONS, "by_persona": {}}})
    assert "Per turn" in only_turns and "Per persona" not in only_turns
