"""arrivals_from_spec: every kind from plain values, with units, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentload.traffic import (
    ARRIVAL_SPEC_KINDS,
    ConstantArrivals,
    CoxArrivals,
    GammaArrivals,
    Hold,
    PoissonArrivals,
    ProfileArrivals,
    Ramp,
    RateProfile,
    Sine,
    TraceReplay,
    arrivals_from_spec,
    spike,
)

RAMP = {"kind": "ramp", "duration": "1m", "from": "1/s", "to": "10/s"}


def test_renewal_and_cox_kinds() -> None:
    assert arrivals_from_spec({"kind": "constant", "rate": 5}) == ConstantArrivals(5.0)
    assert arrivals_from_spec({"kind": "poisson", "rate": "1200/m"}) == PoissonArrivals(20.0)
    gamma = arrivals_from_spec({"kind": "gamma", "rate": 4.0, "burstiness": 0.5})
    assert gamma == GammaArrivals(4.0, 0.5)
    cox = {"kind": "cox", "rate": "20/s", "cv": 0.5, "time_scale": "250ms"}
    assert arrivals_from_spec(cox) == CoxArrivals(20.0, 0.5, 0.25)


def test_profile_of_every_segment_kind() -> None:
    spec = {
        "kind": "profile",
        "spacing": "constant",
        "segments": [
            RAMP,
            {"kind": "hold", "duration": "30s", "rate": 0},
            {"kind": "spike", "duration": 60, "base": 5, "height": 45, "at": "10s", "width": 5},
            {"kind": "step", "stages": [{"duration": 10, "rate": 2}, {"duration": 20, "rate": 3}]},
            {"kind": "sine", "duration": "1h", "mean": 10, "amplitude": 5, "period": "10m"},
        ],
    }
    expected = RateProfile(
        [
            Ramp(60.0, 1.0, 10.0),
            Hold(30.0, 0.0),
            *spike(60.0, 5.0, 45.0, at_s=10.0, width_s=5.0),
            Hold(10.0, 2.0),
            Hold(20.0, 3.0),
            Sine(3600.0, 10.0, 5.0, 600.0, 0.0),
        ]
    )
    assert arrivals_from_spec(spec) == ProfileArrivals(expected, "constant")


def test_a_segment_kind_alone_is_a_one_segment_profile() -> None:
    got = arrivals_from_spec(RAMP | {"spacing": "gamma", "burstiness": 0.5})
    assert got == ProfileArrivals(RateProfile([Ramp(60.0, 1.0, 10.0)]), "gamma", 0.5)
    sine = {"kind": "sine", "duration": 60, "mean": 4, "amplitude": 1, "period": 6, "phase": 2}
    assert arrivals_from_spec(sine) == ProfileArrivals(
        RateProfile([Sine(60.0, 4.0, 1.0, 6.0, 2.0)])
    )


def test_trace_kind(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"ms": 1000, "n": 3}\n{"ms": 1500, "n": 4}\n', encoding="utf-8")
    spec = {"kind": "trace", "path": str(path), "time_field": "ms", "unit": "ms", "speed": 2}
    got = arrivals_from_spec(spec | {"fields": ["n"], "format": "jsonl", "sort": False})
    assert isinstance(got, TraceReplay)
    assert list(got.offsets_s(np.random.default_rng(0))) == [0.0, 0.25]
    assert [r["n"] for r in got.rows()] == [3, 4]


def test_every_listed_kind_builds(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp\n0\n1\n", encoding="utf-8")
    examples: dict[str, dict[str, object]] = {
        "constant": {"rate": 1},
        "poisson": {"rate": 1},
        "gamma": {"rate": 1, "burstiness": 2},
        "cox": {"rate": 1, "cv": 1, "time_scale": 1},
        "profile": {"segments": [{"kind": "hold", "duration": 1, "rate": 1}]},
        "hold": {"duration": 1, "rate": 1},
        "ramp": {"duration": 1, "from": 0, "to": 1},
        "step": {"stages": [{"duration": 1, "rate": 1}]},
        "spike": {"duration": 3, "base": 1, "height": 1, "at": 1, "width": 1},
        "sine": {"duration": 1, "mean": 1, "amplitude": 0, "period": 1},
        "trace": {"path": str(trace)},
    }
    assert set(examples) == set(ARRIVAL_SPEC_KINDS)
    for kind, keys in examples.items():
        process = arrivals_from_spec({"kind": kind, **keys})
        first = next(iter(process.offsets_s(np.random.default_rng(0))), None)
        assert first is None or first >= 0.0


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"rate": 1}, r"^kind: required"),
        ({"kind": "uniform"}, r"^kind: unknown arrival kind 'uniform'; expected one of constant,"),
        ({"kind": "poisson"}, r"^rate: required"),
        ({"kind": "poisson", "rate": "fast"}, r"^rate: 'fast' is not a rate"),
        ({"kind": "poisson", "rate": 1, "burstiness": 2}, r"^burstiness: not a key of kind"),
        ({"kind": "poisson", "rate": [1]}, r"^rate: expected a number or a string"),
        ({"kind": "gamma", "rate": 1, "burstiness": True}, r"^burstiness: expected a number"),
        ({"kind": "gamma", "rate": 1, "burstiness": -1}, r"burstiness must be"),
        ({"kind": "cox", "rate": 1, "cv": 1}, r"^time_scale: required"),
        ({"kind": "profile", "segments": "ramp"}, r"^segments: expected a list"),
        ({"kind": "profile", "segments": [5]}, r"^segments\[0\]: expected a mapping"),
        ({"kind": "profile", "segments": [RAMP, RAMP | {"to": "x"}]}, r"^segments\[1\]\.to: "),
        ({"kind": "profile", "segments": [RAMP | {"top": 1}]}, r"^segments\[0\]\.top: not a key"),
        ({"kind": "profile", "segments": [{"kind": "wave"}]}, r"^segments\[0\]\.kind: unknown"),
        (
            {"kind": "profile", "segments": [RAMP, {"kind": "step", "stages": [{"rate": 1}]}]},
            r"^segments\[1\]\.stages\[0\]\.duration: required",
        ),
        (
            {
                "kind": "profile",
                "segments": [
                    {"kind": "sine", "duration": 1, "mean": 1, "amplitude": 2, "period": 1}
                ],
            },
            r"^segments\[0\]: sine amplitude 2\.0 exceeds its mean",
        ),
        (RAMP | {"spacing": "uniform"}, r"unknown spacing"),
        (RAMP | {"spacing": "poisson", "spaceing": 1}, r"^spaceing: not a key of kind 'ramp'"),
        ({"kind": "hold", "duration": 0, "rate": 1}, r"^hold: duration must be"),
        ({"kind": "trace"}, r"^path: required"),
        ({"kind": "trace", "path": "t.csv", "fields": "n"}, r"^fields: expected a list"),
        ({"kind": "trace", "path": "t.csv", "sort": "yes"}, r"^sort: expected true or false"),
    ],
)
def test_errors_name_the_key(spec: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        arrivals_from_spec(spec)
