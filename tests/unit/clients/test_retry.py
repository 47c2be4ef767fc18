"""The retry policy's pure parts: Retry-After parsing, backoff bounds, the budget, config."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentload.clients.retry import RetryBudget, RetryingClient, parse_retry_after
from agentload.config import parse_scenario
from agentload.config.retry import RetryPolicy
from agentload.errors import ConfigError
from agentload.records.record import ErrorKind, Outcome, Timing
from agentload.sessions.work import Work
from agentload.testing import FakeClient, ManualClock


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert parse_retry_after("2", 0.0) == 2.0
    assert parse_retry_after(" 0.5 ", 0.0) == 0.5
    assert parse_retry_after("-3", 0.0) == 0.0
    now_s = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now_s + 30, UTC), usegmt=True)
    assert parse_retry_after(date, now_s) == pytest.approx(30.0)
    for junk in (None, "", "soon", "nan", "Mon, 99 Foo 2020"):
        assert parse_retry_after(junk, now_s) is None


@given(st.text(max_size=40), st.floats(0, 2e9))
def test_retry_after_never_raises_and_is_never_negative(value: str, now_s: float) -> None:
    seconds = parse_retry_after(value, now_s)
    assert seconds is None or seconds >= 0


@settings(max_examples=200)
@given(
    initial=st.floats(0, 5),
    multiplier=st.floats(1, 10),
    maximum=st.floats(0, 30),
    jitter=st.floats(0, 0.99),
    retry=st.integers(1, 30),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_within_its_jittered_bounds(
    initial: float, multiplier: float, maximum: float, jitter: float, retry: int, seed: int
) -> None:
    policy = RetryPolicy.model_validate(
        {
            "backoff": {
                "initial": initial,
                "multiplier": multiplier,
                "max": maximum,
                "jitter": jitter,
            }
        }
    )
    client = RetryingClient(FakeClient(ManualClock()), policy, seed=seed)
    base = min(maximum, initial * multiplier ** (retry - 1))
    wait = client.backoff_s(retry)
    assert base * (1 - jitter) - 1e-9 <= wait <= base * (1 + jitter) + 1e-9
    # Seeded: the same seed draws the same waits.
    again = RetryingClient(FakeClient(ManualClock()), policy, seed=seed)
    assert again.backoff_s(retry) == wait


@given(
    ratio=st.floats(0, 5),
    minimum=st.integers(0, 50),
    steps=st.lists(st.booleans(), max_size=300),
)
def test_the_budget_never_allows_more_than_ratio_times_requests_plus_the_minimum(
    ratio: float, minimum: int, steps: list[bool]
) -> None:
    budget = RetryBudget(ratio, minimum)
    for new_request in steps:
        if new_request:
            budget.start_request()
        else:
            budget.try_spend()
        assert budget.retries <= ratio * budget.requests + minimum + 1e-9


def test_policy_fields_accept_shares_and_reject_what_cannot_be_retried() -> None:
    assert RetryPolicy.model_validate({"budget": "10%"}).budget == pytest.approx(0.1)
    assert RetryPolicy.model_validate({"budget": 0.25}).budget == 0.25
    with pytest.raises(ValidationError, match="cancelled cannot be retried"):
        RetryPolicy.model_validate({"on": ["cancelled"]})
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"on": ["status_5xx"]})  # not an error kind
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"budget": "ten%"})
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"max_attempts": 0})


def _work(seq: int) -> Work:
    return Work(seq=seq, intended_at=0, action="a", method="GET", path="/", body=None)


def test_a_retried_request_keeps_its_first_send_and_counts_its_attempts() -> None:
    clock = ManualClock()
    failures = {0: 2}  # request 0 fails twice with 503, then succeeds

    def fail(work: Work) -> ErrorKind | None:
        left = failures.get(work.seq, 0)
        failures[work.seq] = left - 1
        return ErrorKind.HTTP_5XX if left > 0 else None

    inner = FakeClient(clock, service_ns=lambda work: 1_000_000, fail=fail)
    policy = RetryPolicy.model_validate(
        {"budget": "100%", "backoff": {"initial": "10ms", "jitter": 0, "multiplier": 2}}
    )
    client = RetryingClient(inner, policy, seed=1)

    async def main() -> tuple[Timing, object]:
        timing = Timing()
        task = asyncio.ensure_future(client.call(_work(0), timing, clock))
        while not task.done():
            await asyncio.sleep(0)
            clock.advance(1_000_000)
        return timing, task.result()

    timing, result = asyncio.run(main())
    assert result.outcome is Outcome.OK  # type: ignore[attr-defined]
    assert result.attempts == 3  # type: ignore[attr-defined]
    assert result.first_error_kind is ErrorKind.HTTP_5XX  # type: ignore[attr-defined]
    assert timing.sent_at == 0
    # 3 attempts of 1 ms and waits of 10 ms and 20 ms: the last first byte comes at ~33 ms.
    assert timing.first_byte_at is not None and 32_000_000 <= timing.first_byte_at <= 35_000_000


def test_a_bare_yaml_on_key_means_on() -> None:
    # YAML 1.1 reads `on:` as the boolean true; the policy takes it as the field it means.
    policy = RetryPolicy.model_validate(yaml.safe_load("on: [http_429]\nmax_attempts: 2"))
    assert policy.on == (ErrorKind.HTTP_429,)


_values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_retry_fields = st.sampled_from(
    ["on", "max_attempts", "budget", "min_retries", "backoff", "honour_retry_after", "junk"]
)
_target_extra = st.fixed_dictionaries(
    {},
    optional={
        "retry": st.dictionaries(_retry_fields, _values | st.lists(_values, max_size=3)) | _values,
        "unreachable_abort_after": _values,
        "insecure": _values,
        "headers": st.dictionaries(
            st.text(min_size=1, max_size=8),
            st.sampled_from(["${env:NOPE_X}", "${file:/nonexistent}", "${env:}", "${file:}", "a"])
            | st.text(max_size=12),
            max_size=3,
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(extra=_target_extra)
def test_random_retry_breaker_tls_and_secret_fields_give_problems_never_tracebacks(
    extra: dict[str, object],
) -> None:
    data = {
        "target": {"base_url": "http://127.0.0.1:9", **extra},
        "load": {"rate": 1, "requests": 1},
        "request": {"prompt_tokens": 4},
    }
    try:
        parse_scenario(yaml.safe_dump(data), source="s.yaml")
    except ConfigError as exc:
        assert exc.problems
        assert all("\n" not in problem.render() for problem in exc.problems)
