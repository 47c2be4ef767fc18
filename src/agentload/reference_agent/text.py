"""Token accounting and the simulated model's output text.

No tokenizer ships with the agent, so prompt length is estimated the way OpenAI's guidance
does for English: about four characters per token, and at least one token per message (the
role markers alone cost that much). Output tokens are short words, each with a leading space,
drawn from a fixed list by a generator seeded per request, so the same seed and prompt give
the same text however many requests run beside it.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable

from agentload.protocol.openai_chat import ChatMessage

CHARS_PER_TOKEN = 4

_WORDS = (
    "the", "agent", "plan", "step", "tool", "call", "result", "data", "load", "test",
    "query", "answer", "context", "memory", "token", "batch", "queue", "model", "cache",
    "latency", "request", "session", "service", "check", "value", "state", "event",
    "record", "output", "input", "search", "update", "store", "fetch", "reply", "next",
    "then", "and", "with", "for", "from", "into", "over", "under", "fast", "slow", "ready",
    "done", "more", "less", "first", "last", "each", "every", "time", "rate", "limit",
    "error", "retry", "window", "trace", "span", "metric", "report",
)  # fmt: skip
TOKEN_TEXTS: tuple[str, ...] = tuple(" " + word for word in _WORDS)


def estimate_prompt_tokens(messages: Iterable[ChatMessage]) -> int:
    """≈ characters / 4 per message, rounded up, at least 1 per message."""
    total = 0
    for message in messages:
        chars = len(message.content) if message.content else 0
        total += max(1, -(-chars // CHARS_PER_TOKEN))
    return total


def prompt_fingerprint(messages: Iterable[ChatMessage]) -> int:
    """A stable 32-bit digest of the prompt (Python's ``hash`` is salted per process)."""
    digest = 0
    for message in messages:
        digest = zlib.crc32(message.role.encode(), digest)
        digest = zlib.crc32((message.content or "").encode(), digest)
    return digest


class TokenSource:
    """Deterministic stream of output token texts for one request."""

    __slots__ = ("_rng",)

    def __init__(self, engine_seed: int, request_seed: int) -> None:
        # A str seed is hashed with SHA-512, stable across processes and Python versions.
        self._rng = random.Random(f"{engine_seed}:{request_seed}")

    def next_text(self) -> str:
        return TOKEN_TEXTS[self._rng.randrange(len(TOKEN_TEXTS))]
