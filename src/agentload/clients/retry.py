"""Retries, made honest: a client wrapper that retries some error kinds, within a budget.

One logical request is one record whatever the number of attempts: ``attempts`` counts them
and ``first_error_kind`` keeps why the first one failed, so the summary can report both the
first-attempt and the eventual success rate and how much traffic the retries added. Latency
stays honest: it runs from the intended start to the end of the last attempt, waits included.
``sent_at`` is the first attempt's; first byte and first token are the last attempt's.

Waits grow exponentially (``backoff``), jittered by a seeded generator; a ``Retry-After``
(seconds or an HTTP date) from a 429 or 503 is honoured when longer, up to
``max_retry_after``. The budget caps retries at ``budget`` × logical requests +
``min_retries``, so a failing target gets a bounded amount of extra load, not a storm.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

from agentload.clients.base import Client
from agentload.clock import NS_PER_S, Clock
from agentload.config.retry import RetryPolicy
from agentload.records.record import CallResult, Outcome, Timing
from agentload.sessions.work import Work


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now_s
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class RetryBudget:
    """Retries allowed so far: ``ratio`` × logical requests + ``minimum``."""

    def __init__(self, ratio: float, minimum: int) -> None:
        self._ratio = ratio
        self._minimum = minimum
        self.requests = 0
        self.retries = 0
        self.denied = 0

    def start_request(self) -> None:
        self.requests += 1

    def try_spend(self) -> bool:
        if self.retries + 1 > self._ratio * self.requests + self._minimum:
            self.denied += 1
            return False
        self.retries += 1
        return True


class RetryingClient:
    def __init__(self, inner: Client, policy: RetryPolicy, *, seed: int) -> None:
        self._inner = inner
        self._policy = policy
        self._retry_on = frozenset(policy.on)
        self._rng = random.Random(seed)
        self.budget = RetryBudget(policy.budget, policy.min_retries)

    def backoff_s(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the first), jittered."""
        backoff = self._policy.backoff
        base = min(backoff.max, backoff.initial * backoff.multiplier ** (retry - 1))
        if backoff.jitter:
            base *= 1 + self._rng.uniform(-backoff.jitter, backoff.jitter)
        return max(0.0, base)

    def wait_s(self, retry: int, result: CallResult) -> float:
        wait = self.backoff_s(retry)
        if self._policy.honour_retry_after and result.retry_after_s is not None:
            wait = max(wait, min(result.retry_after_s, self._policy.max_retry_after))
        return wait

    def _should_retry(self, result: CallResult, attempt: int) -> bool:
        return (
            result.outcome is Outcome.ERROR
            and result.error_kind in self._retry_on
            and attempt < self._policy.max_attempts
            and self.budget.try_spend()
        )

    async def call(self, work: Work, timing: Timing, clock: Clock) -> CallResult:
        self.budget.start_request()
        result = await self._inner.call(work, timing, clock)
        first_error = result.error_kind
        attempt = 1
        while self._should_retry(result, attempt):
            attempt += 1
            wait_ns = int(self.wait_s(attempt - 1, result) * NS_PER_S)
            await clock.sleep_until(clock.now_ns() + wait_ns, precise=False)
            # The engine's timing keeps the first send; this attempt's events replace the rest.
            timing.first_byte_at = timing.first_token_at = None
            again = Timing()
            result = await self._inner.call(work, again, clock)
            timing.first_byte_at = again.first_byte_at
            timing.first_token_at = again.first_token_at
        if attempt > 1:
            result.attempts = attempt
            result.first_error_kind = first_error
        return result

    async def aclose(self) -> None:
        await self._inner.aclose()
