"""Threshold expressions, k6-style: ``p99(latency) < 2s``, ``error_rate < 0.5%``.

Grammar (EBNF; whitespace may appear between any two tokens)::

    threshold  = selector , op , number , [ unit ]
               | flag , "==" , ( "true" | "false" ) ;
    selector   = aggregate , "(" , metric , [ filters ] , ")"
               | aggregate , "(" , generator , ")"
               | ratio , [ filters ]
               | ( "rate" | "count" ) , "(" , outcome , [ filters ] , ")" ;
    aggregate  = "p" , digits , [ "." , digits ]      (* 0..100, at most 4 decimals *)
               | "avg" | "min" | "max" ;
    metric     = "latency" | "service" | "ttft" | "ttfb" | "itl" | "tpot" | "schedule_lag" ;
    generator  = "generator_cpu" | "generator_loop_lag" ;
    ratio      = "error_rate" | "dropped_rate" | "session_success_rate" ;
    outcome    = "requests" | "ok" | "error" | "dropped" ;
    flag       = "trustworthy" ;
    filters    = "{" , filter , { "," , filter } , "}" ;
    filter     = key , "=" , ( word | '"' , { any character but '"' } , '"' ) ;
    key        = "action" | "turn" | "persona" | "error_kind" ;
    op         = "<" | "<=" | ">" | ">=" ;
    unit       = "us" | "ms" | "s" | "m" | "%" | "/s" | "/m" | "/h" ;
    word       = ( letter | digit | "_" | "." | "-" | ":" ) , { same } ;

Units by kind of selector (a limit is stored in the unit in brackets):

- metric and ``generator_loop_lag`` (a duration, [ms]): a unit is required: us, ms, s or m.
- ratio ([fraction]): ``0.5%`` or a bare fraction ``0.005``.
- rate ([per second]): ``100/s``, ``6000/m``, ``5/h`` or a bare number per second.
- count ([requests]): a bare whole number.
- ``generator_cpu`` ([percent of one core]): a unit ``%`` is required (``90%``).

Metrics are RequestRecord fields: latency from the intended start, service from the send,
ttft, ttfb, itl (every gap), tpot, schedule_lag. ``error_kind`` filters only the error
outcome (``error_rate{error_kind=http_429}``, ``count(error{error_kind=...})``) and takes
an ``ErrorKind`` value, ``unknown``, or ``timeout`` (every ``*_timeout`` kind); ``turn``
takes a whole number (the 0-based turn index within a session).

Run-level selectors are judged once, when the run ends (``agentload.slo.run_level``): the
load generator's own telemetry samples (``generator_cpu``: its CPU per sample;
``generator_loop_lag``: its event-loop lateness per sample), which take no filters, and the
flag ``trustworthy`` (``trustworthy == true`` fails when the summary flags the run as not
trustworthy: the generator fell behind its schedule or saturated). They cannot abort a run.
``Threshold.text`` is the canonical form; ``parse(t.text) == t``.
"""

from __future__ import annotations

import math
import re
from typing import Final

from agentload.slo.threshold import (
    DURATION_METRICS,
    ERROR_KINDS,
    FILTER_KEYS,
    FLAGS,
    GENERATOR_METRICS,
    OPERATORS,
    OUTCOMES,
    RATIOS,
    WORD,
    Threshold,
    format_percentile,
)

__all__ = [
    "DURATION_METRICS",
    "ERROR_KINDS",
    "FILTER_KEYS",
    "FLAGS",
    "GENERATOR_METRICS",
    "OPERATORS",
    "OUTCOMES",
    "RATIOS",
    "Threshold",
    "format_percentile",
    "parse_threshold",
]

_DURATION_UNITS_MS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_RATE_UNITS_PER_S: Final = {"/s": 1.0, "/m": 1 / 60, "/h": 1 / 3600}

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_NAME = re.compile(r"[a-z_]+")
_PERCENTILE = re.compile(r"p([0-9]+(?:\.[0-9]+)?)")
_UNIT = re.compile(r"us|ms|s|m|%|/\s*[smh]")


def parse_threshold(text: str) -> Threshold:
    """Parse one expression; raises ValueError naming the (1-based) column at fault."""
    return _Parser(text).threshold()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str, pos: int | None = None) -> ValueError:
        column = (self.pos if pos is None else pos) + 1
        return ValueError(f"column {column}: {message} in {self.text!r}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def mark(self) -> int:
        """The position of the next token (for error columns)."""
        self.skip()
        return self.pos

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip()
        found = pattern.match(self.text, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group(0)

    def expect(self, literal: str) -> None:
        self.skip()
        if not self.text.startswith(literal, self.pos):
            raise self.fail(f"expected {literal!r}")
        self.pos += len(literal)

    def peek(self, literal: str) -> bool:
        self.skip()
        return self.text.startswith(literal, self.pos)

    def threshold(self) -> Threshold:
        start = self.mark()
        name = self.match(_NAME) or self.match(_PERCENTILE)
        if name is None:
            raise self.fail("expected a percentile (p99), avg, min, max, rate, count or a ratio")
        if name in FLAGS:
            return self.flag(name)
        if name in RATIOS:
            aggregate, metric, filters = "", name, self.filters(name)
        else:
            aggregate = self.aggregate(name, start)
            self.expect("(")
            metric_at = self.mark()
            metric = self.match(_NAME) or ""
            allowed = (
                OUTCOMES if aggregate in ("rate", "count") else DURATION_METRICS + GENERATOR_METRICS
            )
            if metric not in allowed:
                raise self.fail(f"expected one of {', '.join(allowed)}", metric_at)
            if metric in GENERATOR_METRICS and self.peek("{"):
                raise self.fail(f"{metric} takes no filters: it is the whole generator")
            filters = self.filters(metric)
            self.expect(")")
        op = self.operator()
        threshold = Threshold(aggregate, metric, filters, op, 0.0, self.text.strip())
        limit = self.limit(threshold.kind)
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the limit")
        return Threshold(aggregate, metric, filters, op, limit, self.text.strip())

    def flag(self, name: str) -> Threshold:
        if self.peek("{"):
            raise self.fail(f"{name} takes no filters: it is about the whole run")
        at = self.mark()
        if not self.peek("=="):
            raise self.fail(f"{name} is compared with == true (or == false)", at)
        self.expect("==")
        value_at = self.mark()
        value = self.match(_NAME)
        if value not in ("true", "false"):
            raise self.fail("expected true or false", value_at)
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the value")
        limit = 1.0 if value == "true" else 0.0
        return Threshold("", name, (), "==", limit, self.text.strip())

    def aggregate(self, name: str, start: int) -> str:
        if name in ("avg", "min", "max", "rate", "count"):
            return name
        found = _PERCENTILE.fullmatch(name) or _PERCENTILE.fullmatch(self._percentile(name))
        if found is None and name in DURATION_METRICS:
            raise self.fail(f"{name} needs an aggregate: p99({name}), avg({name})", start)
        if found is None:
            raise self.fail(f"unknown function {name!r}", start)
        digits = found.group(1)
        if "." in digits and len(digits.split(".")[1]) > 4:
            raise self.fail("a percentile has at most 4 decimals", start)
        if not 0 <= float(digits) <= 100:
            raise self.fail("a percentile must be within 0..100", start)
        return format_percentile(float(digits))

    def _percentile(self, name: str) -> str:
        # "p" alone matched _NAME; the digits follow it.
        if name != "p":
            return name
        digits = self.match(re.compile(r"[0-9]+(?:\.[0-9]+)?"))
        return f"p{digits}" if digits else name

    def filters(self, metric: str) -> tuple[tuple[str, str], ...]:
        if not self.peek("{"):
            return ()
        self.expect("{")
        found: dict[str, str] = {}
        while True:
            key_at = self.mark()
            key = self.match(_NAME) or ""
            if key not in FILTER_KEYS:
                raise self.fail(f"expected a filter: {', '.join(FILTER_KEYS)}", key_at)
            if key in found:
                raise self.fail(f"{key} is given twice", key_at)
            if key == "error_kind" and metric not in ("error", "error_rate"):
                raise self.fail("error_kind filters error_rate, rate(error), count(error)", key_at)
            self.expect("=")
            found[key] = self.filter_value(key)
            if self.peek("}"):
                self.expect("}")
                return tuple(sorted(found.items()))
            self.expect(",")

    def filter_value(self, key: str) -> str:
        at = self.mark()
        if self.peek('"'):
            end = self.text.find('"', self.pos + 1)
            if end < 0:
                raise self.fail("unclosed quote")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
        else:
            value = self.match(WORD) or ""
        if not value:
            raise self.fail(f"expected a value for {key}", at)
        if key == "turn" and not value.isdigit():
            raise self.fail("turn takes a whole number", at)
        if key == "error_kind" and value not in ERROR_KINDS:
            raise self.fail(f"unknown error kind {value!r}; one of {', '.join(ERROR_KINDS)}", at)
        return str(int(value)) if key == "turn" else value

    def operator(self) -> str:
        self.skip()
        for op in OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        raise self.fail("expected a comparison: <, <=, > or >=")

    def limit(self, kind: str) -> float:
        at = self.mark()
        number = self.match(_NUMBER)
        if number is None:
            raise self.fail("expected a number")
        value = float(number)
        unit = (self.match(_UNIT) or "").replace(" ", "").replace("\t", "")
        if kind == "cpu":
            if unit != "%":
                raise self.fail("generator_cpu is a percentage of one core: 90%", at)
        elif kind in ("duration", "loop_lag"):
            if unit not in _DURATION_UNITS_MS:
                raise self.fail("a duration needs a unit: us, ms, s or m", at)
            value *= _DURATION_UNITS_MS[unit]
        elif kind == "ratio":
            if unit not in ("", "%"):
                raise self.fail("a ratio is a percentage (0.5%) or a fraction (0.005)", at)
            value = value / 100 if unit == "%" else value
            if value > 1:
                raise self.fail("a ratio cannot exceed 100%", at)
        elif kind == "rate":
            if unit not in ("", *_RATE_UNITS_PER_S):
                raise self.fail("a rate is per second (100/s), per minute or per hour", at)
            value *= _RATE_UNITS_PER_S.get(unit, 1.0)
        elif unit or not value.is_integer():
            raise self.fail("a count is a whole number without a unit", at)
        if not math.isfinite(value):
            raise self.fail("the limit must be a finite number", at)
        return value
