"""Fold a stream of RequestRecords into run totals in fixed memory (histograms and counters).

Which records feed which figure (a deliberate choice; the summary documents it too):

- ``latency_ms``, ``service_ms``, ``ttft_ms``, ``ttfb_ms``, ``itl_ms``, ``tpot_ms`` and
  ``output_tokens_per_s_per_request``: outcome ``ok`` only. A failure's latency says how fast
  the target failed; mixed into the success distribution it would make a failing target look
  fast. Sent errors go to their own ``error_latency`` histogram instead.
- ``schedule_lag_ms``: every request that was sent (ok, error, cancelled): lag measures the
  generator, not the answer.
- token totals and ``tokens_approx``: ok records only (goodput).

Counts: every record is one request that came due, and
``requests == ok + error + dropped + cancelled`` holds exactly; ``sent = requests - dropped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

from agentload.metrics.histogram import FLUSH_AT, LatencyHistogram, warm_up
from agentload.metrics.jobs import JobAggregator
from agentload.metrics.sessions import SessionAggregator
from agentload.records.record import Outcome, RequestRecord

METRIC_NAMES: Final = (
    "latency_ms",
    "service_ms",
    "schedule_lag_ms",
    "scheduler_lag_ms",  # open model: schedule lag = scheduler lag + dispatch lag
    "dispatch_lag_ms",
    "ttft_ms",
    "ttfb_ms",
    "itl_ms",
    "tpot_ms",
    "output_tokens_per_s_per_request",
)
UNKNOWN_ERROR_KIND: Final = "unknown"  # an error record that carries no error_kind
_FOLD_EVERY: Final = FLUSH_AT // 16  # requests between folds of one histogram buffer
_FILLED_BY_EVERY_SEND: Final = (*METRIC_NAMES[:5], "ttfb_ms")  # lags: the open model's
# Enum members bound once: ``Outcome.OK`` is a descriptor lookup (~80 ns) on every use.
_OK, _ERROR, _DROPPED = Outcome.OK, Outcome.ERROR, Outcome.DROPPED


def output_tokens_per_s(record: RequestRecord) -> float | None:
    """Decode speed one user saw: ``(output_tokens - 1) / ((done_at - first_token_at) / 1e9)``.

    The time runs from the first content token to the end of the response, so it excludes
    queueing and prefill (see TTFT), and the first token is not counted in it — the inverse
    of TPOT. None with fewer than two tokens, no first token, or no time after it.
    """
    if record.first_token_at is None or not record.output_tokens or record.output_tokens < 2:
        return None
    decode_ns = record.done_at - record.first_token_at
    if decode_ns <= 0:
        return None
    return (record.output_tokens - 1) / (decode_ns / 1e9)


class ActionTotals:
    """Counts and latency of one action (a request kind from the scenario's action mix)."""

    __slots__ = ("cancelled", "count", "dropped", "error", "latency", "ok")

    def __init__(self) -> None:
        self.count = 0
        self.ok = 0
        self.error = 0
        self.dropped = 0
        self.cancelled = 0
        self.latency = LatencyHistogram()  # ok records, from the intended start

    def merge(self, other: ActionTotals) -> None:
        self.count += other.count
        self.ok += other.ok
        self.error += other.error
        self.dropped += other.dropped
        self.cancelled += other.cancelled
        self.latency.merge(other.latency)


class RunAggregator:
    """Consumes records one at a time (``add``); memory does not grow with the run's length."""

    def __init__(self) -> None:
        self.requests = 0
        self.ok = 0
        self.error = 0
        self.dropped = 0
        self.cancelled = 0
        self.errors_by_kind: Counter[str] = Counter()
        self.histograms: dict[str, LatencyHistogram] = {n: LatencyHistogram() for n in METRIC_NAMES}
        self.error_latency = LatencyHistogram()
        self.input_tokens = 0
        self.output_tokens = 0
        self.tokens_approx = False
        self.first_intended_at: int | None = None
        self.last_intended_at: int | None = None
        self.last_done_at: int | None = None
        self.first_sent_at: int | None = None
        self.last_sent_at: int | None = None
        self.per_action: dict[str, ActionTotals] = {}
        self.sessions = SessionAggregator()
        self.jobs = JobAggregator()  # async jobs: polls and where the time went
        self.slow = 0  # ok requests slower than their action's sla (a subset of ok)
        self.attempts = 0  # target.retry: attempts of sent requests, retries included
        self.retried = 0  # sent requests that took more than one attempt
        self.first_attempt_ok = 0
        # Buffers of the histograms every sent request feeds (see ``add``).
        self._unfolded = 0
        hists = self.histograms
        self._lag_ms = hists["schedule_lag_ms"].pending_ms
        self._scheduler_lag_ms = hists["scheduler_lag_ms"].pending_ms
        self._dispatch_lag_ms = hists["dispatch_lag_ms"].pending_ms
        self._latency_ms = hists["latency_ms"].pending_ms
        self._service_ms = hists["service_ms"].pending_ms
        self._ttfb_ms = hists["ttfb_ms"].pending_ms

    @property
    def sent(self) -> int:
        return self.requests - self.dropped

    def add(self, record: RequestRecord) -> None:
        # Runs once per request of a run: values derived from integer nanoseconds are finite,
        # so they go straight into the histograms' buffers (``LatencyHistogram.pending_ms``),
        # which ``_fold_full`` keeps bounded.
        self.requests += 1
        self._unfolded += 1
        if self._unfolded >= _FOLD_EVERY:
            self._fold_full()
        if record.session_id is not None:
            self.sessions.add(record)
        if record.polls:
            self.jobs.add(record)
        intended_at = record.intended_at
        done_at = record.done_at
        if self.first_intended_at is None or intended_at < self.first_intended_at:
            self.first_intended_at = intended_at
        if self.last_intended_at is None or intended_at > self.last_intended_at:
            self.last_intended_at = intended_at
        if self.last_done_at is None or done_at > self.last_done_at:
            self.last_done_at = done_at
        action = self.per_action.get(record.action)
        if action is None:
            action = self.per_action[record.action] = ActionTotals()
        action.count += 1
        sent_at = record.sent_at
        if sent_at is not None:
            self._lag_ms.append((sent_at - intended_at) / 1e6)
            released_at = record.released_at
            if released_at is not None:
                self._scheduler_lag_ms.append((released_at - intended_at) / 1e6)
                self._dispatch_lag_ms.append((sent_at - released_at) / 1e6)
            if self.first_sent_at is None or sent_at < self.first_sent_at:
                self.first_sent_at = sent_at
            if self.last_sent_at is None or sent_at > self.last_sent_at:
                self.last_sent_at = sent_at
            attempts = record.attempts
            self.attempts += attempts
            if attempts > 1:
                self.retried += 1
        outcome = record.outcome
        if outcome == _OK:
            self.ok += 1
            if record.attempts == 1:
                self.first_attempt_ok += 1
            if record.slow:
                self.slow += 1
            action.ok += 1
            self._add_ok(record, action)
        elif outcome == _ERROR:
            self.error += 1
            action.error += 1
            kind = str(record.error_kind) if record.error_kind else UNKNOWN_ERROR_KIND
            self.errors_by_kind[kind] += 1
            if sent_at is not None:
                self.error_latency.pending_ms.append((done_at - intended_at) / 1e6)
        elif outcome == _DROPPED:
            self.dropped += 1
            action.dropped += 1
        else:  # Outcome.CANCELLED
            self.cancelled += 1
            action.cancelled += 1

    def _add_ok(self, record: RequestRecord, action: ActionTotals) -> None:
        # The record's derived properties, computed once here from its integer times.
        intended_at = record.intended_at
        sent_at = record.sent_at
        done_at = record.done_at
        if sent_at is not None:
            latency_ms = (done_at - intended_at) / 1e6
            self._latency_ms.append(latency_ms)
            action.latency.pending_ms.append(latency_ms)
            self._service_ms.append((done_at - sent_at) / 1e6)
            if record.first_byte_at is not None:
                self._ttfb_ms.append((record.first_byte_at - sent_at) / 1e6)
        first_token_at = record.first_token_at
        output_tokens = record.output_tokens
        if first_token_at is not None:
            hists = self.histograms
            hists["ttft_ms"].pending_ms.append((first_token_at - intended_at) / 1e6)
            if output_tokens and output_tokens >= 2:
                hists["tpot_ms"].pending_ms.append(
                    (done_at - first_token_at) / 1e6 / (output_tokens - 1)
                )
                if (tokens_per_s := output_tokens_per_s(record)) is not None:
                    # tokens/s rides the ms scale: 0.001 resolution
                    hists["output_tokens_per_s_per_request"].pending_ms.append(tokens_per_s)
        if record.itl_ms:
            self.histograms["itl_ms"].record_many_ms(record.itl_ms)  # checked: floats from a client
        if record.input_tokens is not None:
            self.input_tokens += record.input_tokens
        if output_tokens is not None:
            self.output_tokens += output_tokens
        if record.tokens_approx and (record.input_tokens or output_tokens):
            self.tokens_approx = True

    def _fold_full(self) -> None:
        """Fold the fullest histogram buffer, and any that reached ``FLUSH_AT`` (memory
        stays bounded). The histograms of a request fill together: folding them all at once
        held the event loop 1.5-2.8 ms at 5,000/s and delayed the sends due meanwhile; one
        buffer every ``_FOLD_EVERY`` requests spreads the same work (docs/schedule-lag.md)."""
        self._unfolded = 0
        fullest: LatencyHistogram | None = None
        most = FLUSH_AT // 4 - 1  # smaller batches cost more per value
        for histogram in self._all_histograms():
            pending = len(histogram.pending_ms)
            if pending >= FLUSH_AT:
                histogram.fold_if_full()
            elif pending > most:
                fullest, most = histogram, pending
        if fullest is not None:
            fullest.fold()

    def allocate(self) -> None:
        """Allocate the buckets of the histograms every sent request fills, before the load:
        their first folds otherwise held the event loop 0.5-3 ms each early in a run, and the
        process's first fold 2-4 ms more (``warm_up``)."""
        warm_up()
        for name in _FILLED_BY_EVERY_SEND:
            self.histograms[name].allocate()

    def _all_histograms(self) -> Iterator[LatencyHistogram]:
        yield from self.histograms.values()
        yield self.error_latency
        for totals in self.per_action.values():
            yield totals.latency

    def merge(self, other: RunAggregator) -> None:
        """Fold another aggregator in (shards of one run, e.g. one per worker)."""
        self.requests += other.requests
        self.ok += other.ok
        self.error += other.error
        self.dropped += other.dropped
        self.cancelled += other.cancelled
        self.attempts += other.attempts
        self.retried += other.retried
        self.first_attempt_ok += other.first_attempt_ok
        self.slow += other.slow
        self.sessions.merge(other.sessions)
        self.jobs.merge(other.jobs)
        self.errors_by_kind.update(other.errors_by_kind)
        for name, histogram in other.histograms.items():
            self.histograms[name].merge(histogram)
        self.error_latency.merge(other.error_latency)
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.tokens_approx = self.tokens_approx or other.tokens_approx
        self.first_intended_at = _pick(min, self.first_intended_at, other.first_intended_at)
        self.last_intended_at = _pick(max, self.last_intended_at, other.last_intended_at)
        self.last_done_at = _pick(max, self.last_done_at, other.last_done_at)
        self.first_sent_at = _pick(min, self.first_sent_at, other.first_sent_at)
        self.last_sent_at = _pick(max, self.last_sent_at, other.last_sent_at)
        for name, totals in other.per_action.items():
            self.per_action.setdefault(name, ActionTotals()).merge(totals)

    @property
    def duration_s(self) -> float | None:
        """First intended start to last completion: the span the run's work occupied."""
        if self.first_intended_at is None or self.last_done_at is None:
            return None
        return (self.last_done_at - self.first_intended_at) / 1e9

    @property
    def issue_window_s(self) -> float | None:
        """Time over which requests came due: the span of intended starts times n/(n-1).

        Each of n arrivals owns one inter-arrival gap, so n requests at a constant r/s give
        exactly n/r seconds. None with fewer than two requests or a zero span.
        """
        if self.first_intended_at is None or self.last_intended_at is None or self.requests < 2:
            return None
        span_s = (self.last_intended_at - self.first_intended_at) / 1e9
        return span_s * self.requests / (self.requests - 1) if span_s > 0 else None

    @property
    def offered_per_s(self) -> float | None:
        """Requests that came due per second of the issue window: the schedule's own rate
        (a Poisson schedule's differs from the target by chance, ~1/sqrt(n))."""
        window_s = self.issue_window_s
        return self.requests / window_s if window_s else None

    @property
    def achieved_per_s(self) -> float | None:
        """Requests actually sent per second, over the span of the *actual* sends (× n/(n-1),
        as the issue window). A generator that fell behind spreads its sends over a longer
        span and reads low here; dropped requests were never sent and lower it too."""
        if self.first_sent_at is None or self.last_sent_at is None or self.sent < 2:
            return None
        span_s = (self.last_sent_at - self.first_sent_at) / 1e9
        if span_s <= 0:
            return None
        window_s = span_s * self.sent / (self.sent - 1)
        # Drops thin the sends without stretching their span: count them against the rate.
        return self.sent / max(window_s, self.issue_window_s or 0.0)


def _pick(choose: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)
