"""Threshold grammar: examples, errors with columns, and generated round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agentload.slo.grammar import (
    DURATION_METRICS,
    ERROR_KINDS,
    GENERATOR_METRICS,
    OPERATORS,
    OUTCOMES,
    RATIOS,
    Threshold,
    parse_threshold,
)


@pytest.mark.parametrize(
    ("text", "aggregate", "metric", "filters", "op", "limit"),
    [
        ("p99(latency) < 2s", "p99", "latency", (), "<", 2000.0),
        ("p95(ttft) < 800ms", "p95", "ttft", (), "<", 800.0),
        ("p99(itl) < 50ms", "p99", "itl", (), "<", 50.0),
        ("avg(tpot) <= 250us", "avg", "tpot", (), "<=", 0.25),
        ("max(service) < 1m", "max", "service", (), "<", 60_000.0),
        ("min(ttfb) >= 1ms", "min", "ttfb", (), ">=", 1.0),
        ("error_rate < 0.5%", "", "error_rate", (), "<", 0.005),
        ("error_rate < 0.005", "", "error_rate", (), "<", 0.005),
        ("rate(ok) > 100/s", "rate", "ok", (), ">", 100.0),
        ("rate(requests) >= 6000/m", "rate", "requests", (), ">=", 100.0),
        ("rate(ok) > 100", "rate", "ok", (), ">", 100.0),
        ("dropped_rate < 1%", "", "dropped_rate", (), "<", 0.01),
        ("p99(schedule_lag) < 5ms", "p99", "schedule_lag", (), "<", 5.0),
        ("session_success_rate > 99%", "", "session_success_rate", (), ">", 0.99),
        (
            "p99(latency{action=order}) < 3s",
            "p99",
            "latency",
            (("action", "order"),),
            "<",
            3000.0,
        ),
        (
            "p99.9(latency{turn=02, persona=shopper}) < 1s",
            "p99.9",
            "latency",
            (("persona", "shopper"), ("turn", "2")),
            "<",
            1000.0,
        ),
        (
            'error_rate{error_kind=http_429,action="product page"} < 1%',
            "",
            "error_rate",
            (("action", "product page"), ("error_kind", "http_429")),
            "<",
            0.01,
        ),
        (
            "count(error{error_kind=http_5xx}) <= 10",
            "count",
            "error",
            (("error_kind", "http_5xx"),),
            "<=",
            10.0,
        ),
    ],
)
def test_examples(
    text: str,
    aggregate: str,
    metric: str,
    filters: tuple[tuple[str, str], ...],
    op: str,
    limit: float,
) -> None:
    threshold = parse_threshold(text)
    assert (threshold.aggregate, threshold.metric, threshold.filters, threshold.op) == (
        aggregate,
        metric,
        filters,
        op,
    )
    assert threshold.limit == pytest.approx(limit, rel=1e-12)
    assert threshold.source == text
    assert str(threshold) == text
    assert parse_threshold(threshold.text) == threshold


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("latency < 2s", 1, "needs an aggregate"),
        ("p99(latency) < 2", 16, "needs a unit"),
        ("p101(latency) < 1s", 1, "within 0..100"),
        ("p99(lat) < 1s", 5, "expected one of latency"),
        ("p99(latency{action=a) < 1s", 21, "expected ','"),
        ("p99(latency{error_kind=x}) < 1s", 13, "error_kind filters"),
        ("p99(latency{turn=first}) < 1s", 18, "whole number"),
        ("p99(latency{action=a,action=b}) < 1s", 22, "given twice"),
        ("error_rate < 2", 14, "cannot exceed 100%"),
        ("error_rate = 2%", 12, "expected a comparison"),
        ("count(ok) < 1.5", 13, "whole number"),
        ("rate(ok) > 5/d", 13, "unexpected text"),
        ("p99(latency) < 2s and more", 19, "unexpected text"),
        ("p99(latency) < ", 16, "expected a number"),
        ("", 1, "expected a percentile"),
    ],
)
def test_errors_name_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(ValueError, match=f"column {column}: .*{words}") as info:
        parse_threshold(text)
    assert repr(text) in str(info.value)  # the source text, for the message


_VALUE = st.from_regex(r"[A-Za-z0-9_.:\-]{1,8}|[A-Za-z ]{1,8}", fullmatch=True).filter(
    lambda v: '"' not in v
)


@st.composite
def thresholds(draw: st.DrawFn) -> Threshold:
    family = draw(st.sampled_from(["duration", "ratio", "rate", "count", "generator", "flag"]))
    keys = draw(st.sets(st.sampled_from(["action", "turn", "persona"]), max_size=3))
    filters = {k: str(draw(st.integers(0, 999))) if k == "turn" else draw(_VALUE) for k in keys}
    finite = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
    if family == "flag":
        return Threshold("", "trustworthy", (), "==", float(draw(st.booleans())))
    if family == "generator":  # whole-generator metrics take no filters
        p = draw(st.integers(0, 1_000_000)) / 10_000
        aggregate = draw(
            st.sampled_from([f"p{p:.4f}".rstrip("0").rstrip("."), "avg", "min", "max"])
        )
        metric = draw(st.sampled_from(GENERATOR_METRICS))
        return Threshold(aggregate, metric, (), draw(st.sampled_from(OPERATORS)), draw(finite))
    if family == "duration":
        p = draw(st.integers(0, 1_000_000)) / 10_000
        aggregate = draw(
            st.sampled_from([f"p{p:.4f}".rstrip("0").rstrip("."), "avg", "min", "max"])
        )
        metric, limit = draw(st.sampled_from(DURATION_METRICS)), draw(finite)
    elif family == "ratio":
        aggregate, metric, limit = "", draw(st.sampled_from(RATIOS)), draw(st.floats(0, 1))
    else:
        aggregate = family
        metric = draw(st.sampled_from(OUTCOMES))
        limit = draw(finite) if family == "rate" else float(draw(st.integers(0, 10**12)))
    if metric in ("error", "error_rate") and draw(st.booleans()):
        filters["error_kind"] = draw(st.sampled_from(ERROR_KINDS))
    op = draw(st.sampled_from(OPERATORS))
    return Threshold(aggregate, metric, tuple(sorted(filters.items())), op, limit)


@given(thresholds())
def test_canonical_text_round_trips(threshold: Threshold) -> None:
    parsed = parse_threshold(threshold.text)
    assert parsed == threshold
    assert parsed.text == threshold.text


@given(thresholds(), st.sampled_from(["", " ", "  "]))
def test_whitespace_between_tokens_is_free(threshold: Threshold, space: str) -> None:
    assume(all(" " not in value for _, value in threshold.filters))
    text = threshold.text.replace(" ", space)
    assert parse_threshold(text) == threshold


_ALPHABET = 'p0123456789.(){}=,<>=%/smu "latencyerror_rateokcountavgmaxmintrustworthygenerator'


@given(st.one_of(st.text(max_size=60), st.text(alphabet=_ALPHABET, max_size=60)))
def test_garbage_raises_only_value_error(text: str) -> None:
    try:
        parsed = parse_threshold(text)
    except ValueError as exc:
        assert str(exc).startswith("column ")
    else:
        assert parse_threshold(parsed.text) == parsed


@given(thresholds(), st.integers(0, 60), st.text(max_size=3))
def test_mutated_expressions_raise_only_value_error(
    threshold: Threshold, at: int, junk: str
) -> None:
    text = threshold.text
    text = text[:at] + junk + text[at + 1 :]
    with contextlib.suppress(ValueError):
        parse_threshold(text)


def test_passes_follows_the_operator() -> None:
    assert parse_threshold("p99(latency) < 1s").passes(999.9)
    assert not parse_threshold("p99(latency) < 1s").passes(1000.0)
    assert parse_threshold("p99(latency) <= 1s").passes(1000.0)
    assert parse_threshold("rate(ok) > 10/s").passes(10.1)
    assert not parse_threshold("rate(ok) > 10/s").passes(10.0)
    assert parse_threshold("rate(ok) >= 10/s").passes(10.0)
