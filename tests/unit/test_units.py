"""Durations and rates as users write them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentload.units import format_duration_ms, parse_duration_s, parse_rate_per_s


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("2m", 120),
        ("1h", 3600),
        ("1.5", 1.5),
        (7, 7),
        ("500us", 5e-4),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "per_s"), [("20/s", 20), ("1200/m", 20), ("36/h", 0.01), (5, 5)])
def test_rates(text: str | int, per_s: float) -> None:
    assert parse_rate_per_s(text) == pytest.approx(per_s)


@pytest.mark.parametrize("bad", ["fast", "-1s", "1 parsec", "", "nan", True, float("inf")])
def test_bad_durations_say_what_to_write(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration_s(bad)  # type: ignore[arg-type]


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    for parse in (parse_duration_s, parse_rate_per_s):
        with contextlib.suppress(ValueError):
            assert parse(text) >= 0


@given(st.floats(min_value=0, max_value=1e9))
def test_format_never_fails(ms: float) -> None:
    assert format_duration_ms(ms)
