"""``RecordWriter.add_many`` writes the same lines as ``add``, in order, secrets redacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentload.config import secrets
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RecordWriter

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_secrets_left() -> Iterator[None]:
    yield
    secrets.forget_all()


def record(seq: int, *, echo_secret: bool = False) -> RequestRecord:
    if seq % 3 == 0:
        return RequestRecord(
            seq=seq, worker=0, action="a", intended_at=seq, done_at=seq + 5,
            outcome=Outcome.ERROR, error_kind=ErrorKind.HTTP_4XX,
            error_message=f"bad key {SECRET}" if echo_secret else "bad request",
        )  # fmt: skip
    return RequestRecord(
        seq=seq, worker=0, action="a", intended_at=seq, done_at=seq + 5, outcome=Outcome.OK,
        sent_at=seq + 1, itl_ms=(1.5, 2.25),
    )  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.one_of(st.just(1), st.integers(0, 300).map(lambda n: -n)), max_size=12),
    with_secret=st.booleans(),
)
def test_batches_and_single_records_make_the_same_file(
    tmp_path: Path, steps: list[int], with_secret: bool
) -> None:
    secrets.forget_all()
    if with_secret:
        secrets.remember(SECRET)
    path = tmp_path / f"records-{len(list(tmp_path.iterdir()))}.jsonl"
    writer = RecordWriter(path)
    written: list[RequestRecord] = []
    for step in steps:  # 1: one record by add; -n: a batch of n by add_many
        batch = [record(len(written) + i, echo_secret=True) for i in range(abs(step))]
        if step == 1:
            writer.add(batch[0])
        else:
            writer.add_many(batch)
        written += batch
    writer.close()
    lines = path.read_bytes().splitlines()
    assert writer.count == len(written) == len(lines)
    decoded = [msgspec.json.decode(line, type=RequestRecord) for line in lines]
    assert [r.seq for r in decoded] == [r.seq for r in written]
    for got, sent in zip(decoded, written, strict=True):
        if with_secret and sent.error_message is not None:
            assert SECRET not in (got.error_message or "")
        else:
            assert got == sent
