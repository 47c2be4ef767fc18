"""Threshold verdicts, goodput and the trust flag as text, for the terminal and Markdown.

Reads the summary.json layout (``agentload.analysis.summary``), so ``report`` renders a run
directory the same way the end of ``run`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentload.units import format_duration_ms, format_rate


def threshold_value(value: float | None, unit: str) -> str:
    """An observed value or a margin in the verdict's unit (agentload.slo.evaluate.UNITS)."""
    if value is None:
        return "-"
    if unit == "ms":
        return format_duration_ms(abs(value)) if value >= 0 else f"-{format_duration_ms(-value)}"
    if unit == "fraction":
        return f"{value:.3%}"
    if unit == "per_s":
        return f"{value:,.1f}/s"
    if unit == "percent":
        return f"{value:,.1f}%"
    if unit == "bool":
        return "true" if value else "false"
    return f"{value:,.0f}"


def verdict_word(verdict: Mapping[str, Any]) -> str:
    """pass / FAIL / the reason there is no verdict, with the caveats in brackets."""
    if verdict.get("ok") is None:
        return str(verdict.get("note") or "no data")
    extra = [str(verdict["note"])] if verdict.get("note") else []
    if verdict.get("few_samples"):
        extra.append(f"only {verdict.get('samples', 0):,} samples")
    word = "pass" if verdict["ok"] else "FAIL"
    return f"{word} ({'; '.join(extra)})" if extra else word


def margin_text(verdict: Mapping[str, Any]) -> str:
    unit = str(verdict.get("unit", ""))
    text = threshold_value(_number(verdict.get("margin")), unit)
    relative = _number(verdict.get("margin_relative"))
    return text if relative is None else f"{text} ({relative:+.0%})"


THRESHOLD_HEADERS = ("threshold", "observed", "limit", "margin", "verdict")


def threshold_row(verdict: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """Expression, observed, limit, margin (room on the passing side), verdict word."""
    unit = str(verdict.get("unit", ""))
    return (
        str(verdict.get("expr", "")),
        threshold_value(_number(verdict.get("observed")), unit),
        threshold_value(_number(verdict.get("limit")), unit),
        margin_text(verdict),
        verdict_word(verdict),
    )


def thresholds_markdown(
    verdicts: Sequence[Mapping[str, Any]], cell: Callable[[object], str]
) -> list[str]:
    """One row per threshold (``threshold_row``), the expression as code, the verdict with an
    icon."""
    lines = ["| " + " | ".join(THRESHOLD_HEADERS) + " |", "|---|--:|--:|--:|---|"]
    for v in verdicts:
        expr, observed, limit, margin, word = threshold_row(v)
        icon = "❔" if v.get("ok") is None else ("✅" if v["ok"] else "❌")
        row = (f"`{expr}`", observed, limit, margin, f"{icon} {word}")
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def goodput_lines(goodput: Mapping[str, Any] | None) -> list[str]:
    """Goodput overall, of sessions, and per action; empty without objectives."""
    if not isinstance(goodput, Mapping) or not goodput.get("objectives"):
        return []
    line = f"goodput: {_rate(goodput.get('per_s'))} ({goodput.get('good', 0):,} requests met"
    line += " every objective"
    sessions = goodput.get("sessions")
    if isinstance(sessions, Mapping):
        line += (
            f"; {_rate(sessions.get('per_s'))} sessions, {sessions.get('good', 0):,} of "
            f"{sessions.get('count', 0):,} had every request meet them"
        )
    lines = [line + ")"]
    per_action = goodput.get("per_action")
    if isinstance(per_action, Mapping) and len(per_action) > 1:
        parts = [
            f"{name} {_rate(row.get('per_s'))} ({row.get('good', 0):,})"
            for name, row in sorted(per_action.items())
            if isinstance(row, Mapping)
        ]
        lines.append("goodput by action: " + " · ".join(parts))
    return lines


def trust_line(summary: Mapping[str, Any]) -> str | None:
    """A line when the run is flagged as not trustworthy, else None."""
    if summary.get("trustworthy", True) is not False:
        return None
    reasons = [str(r) for r in summary.get("trust_reasons", ()) if r]
    because = "; ".join(reasons) or "the load generator fell behind"
    return f"NOT TRUSTWORTHY: {because} (the latencies include the generator's own delays)"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _rate(value: object) -> str:
    return format_rate(value) if isinstance(value, int | float) else "-"
