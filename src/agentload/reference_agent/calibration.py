"""Cost model of the simulated inference engine, fitted to measurements on an H200.

The JSON files next to this module (see their README) hold eager-mode PyTorch timings of
0.9B- and 8B-parameter Llama-style models. This module turns them into two functions.

Decode step: ``decode_step_ms(batch, kv) = floor(batch) + kv_excess(kv)``

* ``kv_excess`` comes from ``h200-llama-decode-vs-context.json``: the step costs a flat ``F``
  while the tokens held in the KV cache (batch × context, summed over the batch) are few, then
  grows linearly: ``step(kv) = max(F, a + s·kv)``. ``F`` is the median of the rows with
  kv ≤ 16,384; ``a`` and ``s`` are the least-squares line through the rows above that.
  0.9B: F ≈ 10.8 ms, a ≈ 4.1 ms, s ≈ 0.214 ms per 1k tokens (knee ≈ 31k tokens).
  8B: F ≈ 23.8 ms, a ≈ 11.4 ms, s ≈ 0.415 ms per 1k tokens (knee ≈ 30k tokens).
  The excess is ``max(0, a + s·kv − F)``: the extra attention work of a larger cache.
* ``floor`` comes from the batch sweep of the model file, measured at context 1024. Those
  rows already carry the KV cost of their own context (128×1024 and 16×8192 both cost
  ≈32 ms on 0.9B), so scaling them by the context effect again would count it twice. We
  subtract that excess first, leaving the batch-only cost, then make it monotonic: a point
  above a later (larger-batch) point is noise, and no batch is cheaper than batch 1 (the
  launch-bound floor). Piecewise-linear between batches, flat below the smallest one,
  extrapolated along the last segment above the largest.
  0.9B: the floor is flat at 12.6 ms (eager decoding is launch-bound at every measured
  batch; the growth to 32 ms at 128 and 60 ms at 256 is all KV). 8B: 23.2 ms up to batch
  32, then 23.7, 25.9, 28.2 ms at 64, 128, 256.
  Reproduced: 0.9B at context 1024: 12.6 ms (batch 1), 19.9 (64), 33.9 (128), 61.9 (256)
  vs measured 12.6, 18.2, 32.3, 60.4; 8B hits 23.2, 38.4, 67.8, 124.5 exactly.

Prefill: ``prefill_ms(tokens) = max(launch floor, tokens / saturated throughput)`` for one
forward pass over a batch of prompts. The floor is the fastest measured pass (0.9B ≈ 12.2 ms,
8B ≈ 20.9 ms); the throughput is the median tokens/s of the passes that took more than twice
the floor (0.9B ≈ 240k tokens/s, 8B ≈ 35k tokens/s). Attention's quadratic cost on very long
single prompts is not modelled.

Every time is divided by ``speed`` (2.0 = twice as fast as the measured GPU).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

MODEL_FILES: Mapping[str, str] = {
    "0.9b": "h200-llama-0.9b-bf16-hf-eager.json",
    "8b": "h200-llama-8b-bf16-hf-eager.json",
}
CONTEXT_FILE = "h200-llama-decode-vs-context.json"
# The README: "about the same while the total tokens held in the KV cache stay small (~16k)".
FLAT_KV_TOKENS = 16_384


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Fitted costs of one model; all times in milliseconds at ``speed``."""

    model: str
    batch_sizes: tuple[int, ...]
    batch_floor_ms: tuple[float, ...]  # decode step with a negligible KV cache, per batch size
    kv_floor_ms: float  # F: the flat part of the context curve
    kv_intercept_ms: float  # a
    kv_ms_per_token: float  # s
    prefill_floor_ms: float
    prefill_tokens_per_s: float
    speed: float = 1.0

    def with_speed(self, speed: float) -> ModelProfile:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        return replace(self, speed=speed)

    def kv_excess_ms(self, kv_tokens: int) -> float:
        """Extra decode time caused by ``kv_tokens`` cached tokens (0 while they are few)."""
        grown = self.kv_intercept_ms + self.kv_ms_per_token * max(kv_tokens, 0)
        return max(0.0, grown - self.kv_floor_ms) / self.speed

    def batch_floor_at(self, batch_size: int) -> float:
        """Decode step of ``batch_size`` sequences with a negligible KV cache."""
        return _interpolate(self.batch_sizes, self.batch_floor_ms, batch_size) / self.speed

    def decode_step_ms(self, batch_size: int, kv_tokens: int) -> float:
        """One decode step of the whole batch holding ``kv_tokens`` tokens in its KV cache."""
        if batch_size <= 0:
            return 0.0
        return self.batch_floor_at(batch_size) + self.kv_excess_ms(kv_tokens)

    def prefill_ms(self, prompt_tokens: int) -> float:
        """One forward pass over a batch of prompts totalling ``prompt_tokens`` tokens."""
        if prompt_tokens <= 0:
            return 0.0
        compute_ms = prompt_tokens / self.prefill_tokens_per_s * 1000.0
        return max(self.prefill_floor_ms, compute_ms) / self.speed


def load_profile(model: str = "0.9b", *, speed: float = 1.0) -> ModelProfile:
    """Fit the profile of ``model`` ("0.9b" or "8b") from the packaged measurements."""
    if model not in MODEL_FILES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_FILES)}")
    measured = read_calibration_json(MODEL_FILES[model])
    by_context = read_calibration_json(CONTEXT_FILE)[model]
    return fit_profile(model, measured, by_context).with_speed(speed)


def fit_profile(
    model: str, measured: Mapping[str, Any], by_context: Sequence[Mapping[str, Any]]
) -> ModelProfile:
    """Fit a profile from a model file's content and its rows of the context file."""
    floor_ms, intercept_ms, per_token_ms = fit_kv_curve(by_context)
    partial = ModelProfile(
        model=model,
        batch_sizes=(1,),
        batch_floor_ms=(0.0,),
        kv_floor_ms=floor_ms,
        kv_intercept_ms=intercept_ms,
        kv_ms_per_token=per_token_ms,
        prefill_floor_ms=0.0,
        prefill_tokens_per_s=1.0,
    )
    decode_rows = sorted(measured["decode"], key=lambda row: int(row["batch"]))
    batch_sizes = tuple(int(row["batch"]) for row in decode_rows)
    batch_only = [
        float(row["step_ms"]) - partial.kv_excess_ms(int(row["batch"]) * int(row["context"]))
        for row in decode_rows
    ]
    prefill_floor_ms, tokens_per_s = fit_prefill(measured["prefill"])
    return replace(
        partial,
        batch_sizes=batch_sizes,
        batch_floor_ms=tuple(monotone_floor(batch_only)),
        prefill_floor_ms=prefill_floor_ms,
        prefill_tokens_per_s=tokens_per_s,
    )


def fit_kv_curve(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float, float]:
    """``(F, a, s)`` of ``step(kv) = max(F, a + s·kv)`` from decode-vs-context rows."""
    points = [(int(r["batch"]) * int(r["context"]), float(r["step_ms"])) for r in rows]
    flat = [ms for kv, ms in points if kv <= FLAT_KV_TOKENS]
    grown = [(float(kv), ms) for kv, ms in points if kv > FLAT_KV_TOKENS]
    if not flat or len({kv for kv, _ in grown}) < 2:
        raise ValueError("context rows must cover small and at least two large KV sizes")
    mean_kv = statistics.fmean(kv for kv, _ in grown)
    mean_ms = statistics.fmean(ms for _, ms in grown)
    covariance = sum((kv - mean_kv) * (ms - mean_ms) for kv, ms in grown)
    variance = sum((kv - mean_kv) ** 2 for kv, _ in grown)
    slope = max(covariance / variance, 0.0)
    return statistics.median(flat), mean_ms - slope * mean_kv, slope


def fit_prefill(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """``(launch floor ms, saturated tokens/s)`` from prefill rows."""
    floor_ms = min(float(r["ms"]) for r in rows)
    saturated = [float(r["tokens_per_s"]) for r in rows if float(r["ms"]) > 2 * floor_ms]
    if not saturated:
        raise ValueError("no prefill row is large enough to show the saturated throughput")
    return floor_ms, statistics.median(saturated)


def monotone_floor(values: Sequence[float]) -> list[float]:
    """Non-decreasing version of ``values``: drop points above a later point, floor at the first.

    A point higher than some later one breaks monotonicity and is read as noise (running
    minimum from the right); nothing goes below the first value, the launch-bound floor.
    """
    if not values:
        return []
    result = list(values)
    for i in range(len(result) - 2, -1, -1):
        result[i] = min(result[i], result[i + 1])
    return [max(v, values[0]) for v in result]


def _interpolate(xs: Sequence[int], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear; flat below the first point, last slope (never negative) above."""
    if x <= xs[0] or len(xs) == 1:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            frac = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            return ys[i - 1] + frac * (ys[i] - ys[i - 1])
    slope = max((ys[-1] - ys[-2]) / (xs[-1] - xs[-2]), 0.0)
    return ys[-1] + slope * (x - xs[-1])


def read_calibration_json(name: str) -> Any:
    package = resources.files("agentload.reference_agent") / "calibration" / name
    return json.loads(package.read_text(encoding="utf-8"))
