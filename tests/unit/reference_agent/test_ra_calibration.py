"""Calibration: the fitted cost model against the measurements it came from."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from agentload.reference_agent.calibration import (
    CONTEXT_FILE,
    FLAT_KV_TOKENS,
    MODEL_FILES,
    load_profile,
    monotone_floor,
    read_calibration_json,
)

MODELS = sorted(MODEL_FILES)


def decode_rows(model: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = read_calibration_json(MODEL_FILES[model])["decode"]
    return sorted(rows, key=lambda r: r["batch"])


def is_noise(rows: list[dict[str, Any]], i: int) -> bool:
    """The README's rule: a point above a later (larger-batch) point breaks monotonicity."""
    return any(later["step_ms"] < rows[i]["step_ms"] for later in rows[i + 1 :])


@pytest.mark.parametrize("model", MODELS)
def test_decode_hits_measured_batch_points_within_noise_rules(model: str) -> None:
    profile = load_profile(model)
    rows = decode_rows(model)
    for i, row in enumerate(rows):
        fitted = profile.decode_step_ms(row["batch"], row["batch"] * row["context"])
        measured = row["step_ms"]
        assert fitted <= measured * 1.10, row  # never well above any measurement
        if not is_noise(rows, i):
            assert fitted == pytest.approx(measured, rel=0.10), row


@pytest.mark.parametrize(
    ("model", "batch", "expected_ms"),
    [("0.9b", 1, 12.6), ("0.9b", 128, 32.3), ("0.9b", 256, 60.4), ("8b", 1, 23.2),
     ("8b", 128, 67.8), ("8b", 256, 124.5)],
)  # fmt: skip
def test_headline_numbers(model: str, batch: int, expected_ms: float) -> None:
    fitted = load_profile(model).decode_step_ms(batch, batch * 1024)
    assert fitted == pytest.approx(expected_ms, rel=0.05)


@pytest.mark.parametrize("model", MODELS)
def test_decode_follows_the_context_curve_above_the_knee(model: str) -> None:
    # The two measurement runs' launch floors differ by up to ~1.8 ms, hence the tolerance.
    profile = load_profile(model)
    for row in read_calibration_json(CONTEXT_FILE)[model]:
        kv = row["batch"] * row["context"]
        if kv > FLAT_KV_TOKENS:
            fitted = profile.decode_step_ms(row["batch"], kv)
            assert abs(fitted - row["step_ms"]) <= max(2.0, 0.05 * row["step_ms"]), row


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("context", [0, 256, 1024, 8192])
def test_decode_is_monotonic_in_batch(model: str, context: int) -> None:
    profile = load_profile(model)
    fixed_kv = [profile.decode_step_ms(b, 50_000) for b in range(1, 513)]
    growing_kv = [profile.decode_step_ms(b, b * context) for b in range(1, 513)]
    for steps in (fixed_kv, growing_kv):
        assert all(a <= b + 1e-9 for a, b in itertools.pairwise(steps))


@pytest.mark.parametrize("model", MODELS)
def test_decode_grows_with_kv_tokens_at_fixed_batch(model: str) -> None:
    profile = load_profile(model)
    kvs = [1024 * 2**k for k in range(10)]  # 1k .. 512k tokens
    steps = [profile.decode_step_ms(16, kv) for kv in kvs]
    assert all(a <= b for a, b in itertools.pairwise(steps))
    assert steps[0] == steps[1]  # flat while the cache is small
    assert steps[-1] > 3 * steps[0]  # then roughly linear: long contexts slow the batch
    assert profile.decode_step_ms(16, 131_072) - profile.decode_step_ms(16, 65_536) == (
        pytest.approx(profile.kv_ms_per_token * 65_536)
    )


def test_decode_at_batch_256_costs_more_than_batch_1() -> None:
    profile = load_profile("0.9b")
    assert profile.decode_step_ms(256, 256 * 1024) > 4 * profile.decode_step_ms(1, 1024)
    assert profile.decode_step_ms(0, 0) == 0.0


@pytest.mark.parametrize("model", MODELS)
def test_prefill_is_floor_then_saturated_throughput(model: str) -> None:
    profile = load_profile(model)
    rows = read_calibration_json(MODEL_FILES[model])["prefill"]
    floor_ms = min(r["ms"] for r in rows)
    assert profile.prefill_ms(1) == profile.prefill_ms(64) == pytest.approx(floor_ms)
    for row in rows:
        if row["ms"] > 2 * floor_ms:
            fitted = profile.prefill_ms(row["batch"] * row["prompt_len"])
            assert fitted == pytest.approx(row["ms"], rel=0.05), row
    assert profile.prefill_ms(0) == 0.0


def test_prefill_throughputs_match_the_readme() -> None:
    assert load_profile("0.9b").prefill_tokens_per_s == pytest.approx(240_000, rel=0.02)
    assert load_profile("8b").prefill_tokens_per_s == pytest.approx(35_000, rel=0.02)


def test_speed_divides_every_time() -> None:
    base, fast = load_profile("8b"), load_profile("8b", speed=2.0)
    for batch, kv in [(1, 100), (64, 65_536), (300, 400_000)]:
        assert fast.decode_step_ms(batch, kv) == pytest.approx(base.decode_step_ms(batch, kv) / 2)
    assert fast.prefill_ms(100_000) == pytest.approx(base.prefill_ms(100_000) / 2)
    assert base.with_speed(4.0).prefill_ms(10) == pytest.approx(base.prefill_ms(10) / 4)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        load_profile("70b")
    with pytest.raises(ValueError, match="speed"):
        load_profile("0.9b", speed=0)


def test_monotone_floor_drops_points_above_later_ones() -> None:
    assert monotone_floor([10.0, 15.0, 12.0, 11.0, 20.0, 18.0, 30.0]) == [
        10.0, 11.0, 11.0, 11.0, 18.0, 18.0, 30.0,
    ]  # fmt: skip
    assert monotone_floor([12.0, 11.0, 13.0]) == [12.0, 12.0, 13.0]  # batch 1 is the floor
    assert monotone_floor([]) == []


def test_batch_curve_is_flat_below_the_smallest_and_extrapolates_above() -> None:
    profile = load_profile("8b")
    assert profile.batch_floor_at(0) == profile.batch_floor_at(1)
    at_256, at_512 = profile.batch_floor_at(256), profile.batch_floor_at(512)
    assert at_512 > at_256  # the 8B floor still rises at 256; keep its last slope
    assert profile.batch_floor_at(96) == pytest.approx(
        (profile.batch_floor_at(64) + profile.batch_floor_at(128)) / 2
    )
