"""How long an answer is, decided when the request arrives.

A request that sets ``max_tokens`` gets exactly that many tokens (capped), finishing with
"length": load tests set it to control output length, as benchmarkers do with ``ignore_eos``.
Otherwise the length is lognormal around a median, ``round(median · exp(sigma · z))`` with
``z ~ N(0, 1)``, at least 1 and capped (finish "length" when the cap cut it, else "stop").
``z`` comes from a generator seeded by the engine seed and the request seed, so an answer's
length, like its text, does not depend on what else is running.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutputPlan:
    tokens: int  # exactly how many tokens the answer has
    limit_tokens: int  # the most it could have had: what a worst-case reservation holds
    finish_reason: str  # "stop" | "length"


def sample_output_tokens(
    engine_seed: int, request_seed: int, *, median_tokens: int, sigma: float
) -> int:
    """The uncapped lognormal length of one answer (at least 1)."""
    z = random.Random(f"{engine_seed}:{request_seed}:length").gauss(0.0, 1.0)
    return max(1, round(median_tokens * math.exp(sigma * z)))


def plan_output(
    max_tokens: int | None,
    *,
    engine_seed: int,
    request_seed: int,
    median_tokens: int,
    sigma: float,
    cap_tokens: int,
) -> OutputPlan:
    if max_tokens is not None:
        tokens = max(1, min(max_tokens, cap_tokens))
        return OutputPlan(tokens, tokens, "length")
    wanted = sample_output_tokens(
        engine_seed, request_seed, median_tokens=median_tokens, sigma=sigma
    )
    tokens = min(wanted, cap_tokens)
    return OutputPlan(tokens, cap_tokens, "length" if wanted > cap_tokens else "stop")
