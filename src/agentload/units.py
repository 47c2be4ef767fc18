"""Parse and format durations and rates as users write them: "250ms", "1.5s", "2m", "20/s".

A bare number is seconds (durations) or per second (rates).
"""

from __future__ import annotations

import re

MAX_DURATION_S = 100 * 86_400.0
MAX_RATE_PER_S = 10_000_000.0
MIN_RATE_PER_S = 1 / MAX_DURATION_S

_DURATION_UNITS_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RATE_UNITS_PER_S = {"s": 1.0, "sec": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600}
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s|m|h)?\s*$")
_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:/\s*(s|sec|m|min|h))?\s*$")


def parse_duration_s(value: str | float | int) -> float:
    """Seconds from "250ms", "30s", "2m", "1h" or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s' or '250ms', got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; write a number with a unit: 250ms, 30s, 2m, 1h"
            )
        seconds = float(match.group(1)) * _DURATION_UNITS_S[match.group(2) or "s"]
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("a duration must be a finite number")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION_S:
        raise ValueError("a duration longer than 100 days is surely a typo")
    return seconds


def parse_rate_per_s(value: str | float | int) -> float:
    """Events per second from "20/s", "1200/m", "5/h" or a bare number per second."""
    if isinstance(value, bool):
        raise ValueError("expected a rate such as '20/s', got a boolean")
    if isinstance(value, int | float):
        rate = float(value)
    else:
        match = _RATE_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a rate; write it as 20/s, 1200/m or 5/h")
        rate = float(match.group(1)) * _RATE_UNITS_PER_S[match.group(2) or "s"]
    if rate != rate or rate in (float("inf"), float("-inf")):
        raise ValueError("a rate must be a finite number")
    if rate < 0:
        raise ValueError("a rate cannot be negative")
    if rate > MAX_RATE_PER_S:
        raise ValueError("a rate above 10,000,000/s is beyond any single generator")
    if 0 < rate < MIN_RATE_PER_S:
        raise ValueError("a rate below one per 100 days is surely a typo")
    return rate


def format_duration_ms(ms: float | None) -> str:
    """Human form of a millisecond value: "850µs", "12.3ms", "1.42s", "2m05s"."""
    if ms is None or ms != ms:
        return "-"
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 100:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:02.0f}s"


def format_rate(per_s: float) -> str:
    return f"{per_s:.1f}/s" if per_s < 100 else f"{per_s:.0f}/s"
