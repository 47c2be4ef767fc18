"""The optional retry policy of a target (``target.retry``); off unless given.

    retry:
      on: [connect_refused, connect_error, http_429, http_5xx]   # error kinds to retry
      max_attempts: 3            # first attempt included
      budget: 10%                # retries may add at most this share of logical requests,
      min_retries: 10            #   plus this many, so a short run can retry at all
      backoff: {initial: 100ms, multiplier: 2, max: 2s, jitter: 0.2}
      honour_retry_after: true   # wait what a 429/503's Retry-After says (up to max_retry_after)
      max_retry_after: 10s

A retried request stays one logical request: one record, with ``attempts`` and the kind of
the first attempt's failure, so the summary can report first-attempt and eventual success and
how much extra traffic the retries sent (amplification).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from agentload.config.fields import DurationS, Strict
from agentload.records.record import ErrorKind

# Failing before anything was sent, rate limiting, and server errors: safe and usual to retry.
DEFAULT_RETRY_ON = (
    ErrorKind.CONNECT_REFUSED,
    ErrorKind.CONNECT_TIMEOUT,
    ErrorKind.CONNECT_ERROR,
    ErrorKind.HTTP_429,
    ErrorKind.HTTP_5XX,
)
# Never retried: the run's own stop, the generator's own limits, and a request cut by a cap.
NOT_RETRYABLE = frozenset({ErrorKind.CANCELLED, ErrorKind.CLIENT_LIMIT, ErrorKind.CLIENT_ERROR})


def _ratio(value: Any) -> Any:
    """``10%`` or ``0.1``."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r}: write a share as 10% or 0.1") from None
    return value


class Backoff(Strict):
    initial: DurationS = Field(0.1, ge=0, le=3600, description="wait before the first retry")
    multiplier: float = Field(2.0, ge=1, le=10)
    max: DurationS = Field(2.0, ge=0, le=3600, description="the longest wait between attempts")
    jitter: float = Field(0.2, ge=0, lt=1, description="each wait is drawn within ±this share")


class RetryPolicy(Strict):
    on: tuple[ErrorKind, ...] = Field(DEFAULT_RETRY_ON, min_length=1)
    max_attempts: int = Field(3, ge=1, le=20, description="attempts per request, the first one too")
    budget: Annotated[float, BeforeValidator(_ratio)] = Field(
        0.1, ge=0, le=100, description="retries at most this share of requests, e.g. 10%"
    )
    min_retries: int = Field(10, ge=0, le=1_000_000, description="allowed beside the budget")
    backoff: Backoff = Backoff()
    honour_retry_after: bool = True
    max_retry_after: DurationS = Field(10.0, ge=0, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true.
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if k is True else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _retryable(self) -> RetryPolicy:
        refused = sorted(kind.value for kind in set(self.on) & NOT_RETRYABLE)
        if refused:
            raise ValueError(f"on: {', '.join(refused)} cannot be retried")
        return self
