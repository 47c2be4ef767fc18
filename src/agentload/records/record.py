"""The per-request record: the one fact the engine produces and everything else reads.

All times are integer nanoseconds on the run clock (0 = run start). A field that did not
happen is ``None`` (a dropped request was never sent; a failed connect has no first byte).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    DROPPED = "dropped"  # came due while the in-flight cap was full; never sent
    CANCELLED = "cancelled"  # in flight when the run was stopped hard


class ErrorKind(StrEnum):
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_ERROR = "connect_error"  # DNS failure, unreachable host, TLS failure
    FIRST_BYTE_TIMEOUT = "first_byte_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    CONNECTION_RESET = "connection_reset"  # the peer closed or reset mid-response
    HTTP_4XX = "http_4xx"
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    PROTOCOL_ERROR = "protocol_error"  # malformed SSE, JSON, or an error object in a 200
    MODEL_OOM = "model_oom"  # the model server ran out of KV-cache / GPU memory
    CONTEXT_LOST = "context_lost"  # an agent answered without the session's earlier context
    TOOL_ERROR = "tool_error"  # an agent's turn failed because a tool it called failed
    JOB_FAILED = "job_failed"  # an async job ended failed or cancelled on the server
    JOB_TIMEOUT = "job_timeout"  # an async job had no result within the polling budget
    BODY_TOO_LARGE = "body_too_large"
    CANCELLED = "cancelled"
    CLIENT_LIMIT = "client_limit"  # the load generator ran out of sockets or file descriptors
    CLIENT_ERROR = "client_error"  # anything else raised inside the client (a bug)


class RequestRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One request that came due. Build it with keywords; the engine alone passes every field
    by position (5x cheaper than 27 keywords, per request), so a new field goes at the end
    and ``Engine._emit`` passes it too (``test_engine_record_fields`` checks each one)."""

    seq: int
    worker: int
    action: str
    intended_at: int
    done_at: int
    outcome: Outcome
    session_id: str | None = None
    turn: int = 0
    user: int | None = None  # closed model: which virtual user sent it
    sent_at: int | None = None
    first_byte_at: int | None = None
    first_token_at: int | None = None
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    http_status: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_approx: bool = False  # counts estimated by the client, not reported by the server
    chunks: int = 0
    polls: int = 0  # async jobs: status requests until the result
    itl_ms: tuple[float, ...] = ()  # gaps between successive content chunks
    phases_ms: dict[str, float] = msgspec.field(default_factory=dict)
    persona: str | None = None  # the session type (scenario personas) this turn belongs to
    slow: bool = False  # ok, but slower than the action's sla (marked, not an error)
    attempts: int = 1  # target.retry: attempts this logical request took, the first included
    first_error_kind: ErrorKind | None = None  # why the first attempt failed, when retried
    # Open model: when the scheduler released the request (its timer fired). Splits
    # schedule lag into scheduler lag (released late) and dispatch lag (written late).
    released_at: int | None = None

    # Derived values in milliseconds; None when the inputs are missing.
    @property
    def latency_ms(self) -> float | None:
        """From the intended start: what a user waiting for it saw (no coordinated omission)."""
        if self.sent_at is None:
            return None
        return (self.done_at - self.intended_at) / 1e6

    @property
    def service_ms(self) -> float | None:
        """From the actual send: what the target took."""
        if self.sent_at is None:
            return None
        return (self.done_at - self.sent_at) / 1e6

    @property
    def schedule_lag_ms(self) -> float | None:
        if self.sent_at is None:
            return None
        return (self.sent_at - self.intended_at) / 1e6

    @property
    def scheduler_lag_ms(self) -> float | None:
        """Intended start to the scheduler releasing it: the timer fired late."""
        if self.released_at is None:
            return None
        return (self.released_at - self.intended_at) / 1e6

    @property
    def dispatch_lag_ms(self) -> float | None:
        """Release to send: the request waited for the event loop to run it. ``sent_at`` is
        stamped as the client starts the request, on either transport, so waiting for a
        pooled connection or opening one comes after it, in TTFB and service time (the
        ``client.pool_wait`` / ``client.connect`` phases with ``target.client_phases``)."""
        if self.released_at is None or self.sent_at is None:
            return None
        return (self.sent_at - self.released_at) / 1e6

    @property
    def ttft_ms(self) -> float | None:
        """Time to first content token, from the intended start."""
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.intended_at) / 1e6

    @property
    def ttfb_ms(self) -> float | None:
        if self.first_byte_at is None or self.sent_at is None:
            return None
        return (self.first_byte_at - self.sent_at) / 1e6

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token after the first (decode speed as one user saw it)."""
        if self.first_token_at is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.done_at - self.first_token_at) / 1e6 / (self.output_tokens - 1)


class Timing(msgspec.Struct, kw_only=True):
    """What a client fills in while a request is in flight (mutable, engine-owned)."""

    sent_at: int | None = None
    first_byte_at: int | None = None
    first_token_at: int | None = None
    released_at: int | None = None  # open model: the scheduler let it go


class CallResult(msgspec.Struct, kw_only=True):
    """What a client returns for one request; the engine adds identity and schedule."""

    done_at: int
    outcome: Outcome
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    http_status: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_approx: bool = False
    chunks: int = 0
    polls: int = 0
    itl_ms: tuple[float, ...] = ()
    phases_ms: dict[str, float] = msgspec.field(default_factory=dict)
    answer: str | None = None  # the answer's text, when a context check needs it
    attempts: int = 1
    first_error_kind: ErrorKind | None = None
    retry_after_s: float | None = None  # a 429/503's Retry-After, for the retry policy
