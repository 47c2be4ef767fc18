"""Token ids in and words out for the hf engine, without a tokenizer.

The agent sends the engine a prompt *length*, not text (what a prompt costs depends on how
many tokens it has, not which), so the prompt's ids are drawn from a generator seeded by the
engine's and the request's seeds: the same request is the same ids, in any batch. Generated
ids become words of the simulated engine's fixed list (``id mod len(list)``), so answers read
like the simulated ones and no vocabulary file is needed, whatever model is loaded.
"""

from __future__ import annotations

import numpy as np

from agentload.reference_agent.text import TOKEN_TEXTS

_U64 = (1 << 64) - 1


def prompt_ids(engine_seed: int, request_seed: int, length: int, vocab_size: int) -> list[int]:
    """``length`` ids in ``[0, vocab_size)``; a longer prompt extends a shorter one."""
    rng = np.random.default_rng([engine_seed & _U64, request_seed & _U64])
    return [int(i) for i in rng.integers(0, vocab_size, size=length)]


def token_text(token_id: int) -> str:
    return TOKEN_TEXTS[token_id % len(TOKEN_TEXTS)]
