"""PhaseWindows folds a request without server phases without building its components dict;
every figure must equal the general path's (``components_ms`` for each request)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.attribution import PhaseWindows, _Window, components_ms
from agentload.records.record import Outcome, RequestRecord

MS = 1_000_000


class Reference(PhaseWindows):
    """The general path for every request: components_ms, one dict per request."""

    def add(self, record: RequestRecord) -> None:
        index = max(0, record.intended_at) // self.window_ns
        window = self._windows.setdefault(index, _Window())
        window.due += 1
        parts = components_ms(record)
        if parts is None:
            return
        latency = record.latency_ms
        assert latency is not None
        self.count += 1
        self.with_phases += "service" not in parts
        window.count += 1
        window.latency_ms += latency
        for name, value in parts.items():
            window.components_ms[name] += value
        self.rows.add((latency, parts))


PHASES = st.sampled_from(
    [{}, {}, {}, {"queue": 1.5, "decode": 2.25, "total": 6.0}, {"client.connect": 0.5}]
)


@st.composite
def records(draw: st.DrawFn) -> list[RequestRecord]:
    out = []
    for seq in range(draw(st.integers(1, 150))):
        intended = seq * draw(st.integers(0, 40)) * MS // 3
        outcome = draw(st.sampled_from(list(Outcome)))
        fields: dict[str, Any] = {}
        if outcome is not Outcome.DROPPED and draw(st.integers(0, 9)):
            fields["sent_at"] = intended + draw(st.integers(0, 5 * MS))
        done = fields.get("sent_at", intended) + draw(st.integers(0, 900 * MS))
        out.append(
            RequestRecord(
                seq=seq,
                worker=0,
                action="a",
                intended_at=intended,
                done_at=done,
                outcome=outcome,
                phases_ms=draw(PHASES),
                **fields,
            )
        )
    return out


def figures(windows: PhaseWindows) -> tuple[Any, ...]:
    return (
        windows.series(),
        windows.totals(),
        windows.shares(),
        windows.tail_shares(),
        windows.count,
        windows.with_phases,
        windows.window_ns,
    )


@settings(max_examples=80, deadline=None)
@given(records(), st.sampled_from([2, 7, 10_000]))
def test_plain_requests_fold_to_the_same_figures(batch: list[RequestRecord], cap: int) -> None:
    fast, reference = PhaseWindows(0.01, row_cap=cap), Reference(0.01, row_cap=cap)
    for record in batch:
        fast.add(record)
        reference.add(record)
    assert figures(fast) == figures(reference)  # exact: same floats in the same order


def test_tail_shares_of_plain_requests_split_lag_and_service() -> None:
    windows = PhaseWindows()
    for seq in range(200):
        sent = seq * MS + (2 * MS if seq % 10 == 0 else 0)  # every tenth is 2 ms late
        windows.add(
            RequestRecord(
                seq=seq,
                worker=0,
                action="a",
                intended_at=seq * MS,
                sent_at=sent,
                done_at=sent + (40 * MS if seq % 10 == 0 else 8 * MS),
                outcome=Outcome.OK,
            )
        )
    tail = windows.tail_shares()
    assert tail.keys() == {"schedule_lag", "service"}
    assert abs(tail["schedule_lag"] - 2 / 42) < 1e-9  # the slow, late ones make the tail
