import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.summary import SCHEMA_VERSION, summarize
from agentload.metrics.aggregate import METRIC_NAMES
from agentload.records.record import ErrorKind, Outcome, RequestRecord

MS = 1_000_000
BLOCK_KEYS = {"count", "mean", "std", "min", "max", "p50", "p90", "p95", "p99", "p99_9"}


def rec(seq: int, outcome: Outcome = Outcome.OK, action: str = "chat", **kw: Any) -> RequestRecord:
    intended = seq * 10 * MS
    if outcome == Outcome.DROPPED:
        return RequestRecord(
            seq=seq,
            worker=0,
            action=action,
            intended_at=intended,
            done_at=intended,
            outcome=outcome,
        )
    fields: dict[str, Any] = {
        "sent_at": intended + MS,
        "first_byte_at": intended + 5 * MS,
        "first_token_at": intended + 8 * MS,
        "done_at": intended + (40 + seq % 7) * MS,
        "output_tokens": 9,
        "input_tokens": 3,
        "itl_ms": (4.0, 4.0),
    }
    if outcome == Outcome.ERROR:
        fields["error_kind"] = ErrorKind.CONNECTION_RESET
    fields.update(kw)
    return RequestRecord(
        seq=seq, worker=0, action=action, intended_at=intended, outcome=outcome, **fields
    )


def test_empty_run_summary_is_all_none_and_serialisable() -> None:
    data = summarize([], target_rate_per_s=None).to_dict()
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["counts"] == dict.fromkeys(
        ("requests", "sent", "ok", "error", "dropped", "cancelled", "slow"), 0
    )
    assert set(data["metrics"]) == {*METRIC_NAMES, "error_latency_ms"}
    for block in data["metrics"].values():
        assert set(block) == BLOCK_KEYS
        assert block["count"] == 0
        assert all(block[k] is None for k in BLOCK_KEYS - {"count"})
    assert data["rate"] == {
        "target_per_s": None,
        "offered_per_s": None,
        "achieved_per_s": None,
        "ok_per_s": None,
        "window_s": None,
    }
    assert data["warnings"] == []
    json.dumps(data, allow_nan=False)


@settings(deadline=None, max_examples=25)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Outcome)), st.sampled_from(["chat", "search"])),
        max_size=40,
    ),
    st.one_of(st.none(), st.floats(min_value=0.1, max_value=1000)),
)
def test_summary_counts_and_json(mix: list[tuple[Outcome, str]], target: float | None) -> None:
    summary = summarize(
        (rec(i, outcome, action) for i, (outcome, action) in enumerate(mix)),
        target_rate_per_s=target,
    )
    data = json.loads(json.dumps(summary.to_dict(), allow_nan=False))
    counts = data["counts"]
    assert counts["requests"] == len(mix)
    assert (
        counts["requests"]
        == counts["ok"] + counts["error"] + counts["dropped"] + counts["cancelled"]
    )
    assert counts["sent"] == counts["requests"] - counts["dropped"]
    assert sum(data["errors_by_kind"].values()) == counts["error"]
    for key in ("count", "ok", "error", "dropped", "cancelled"):
        total = counts["requests"] if key == "count" else counts[key]
        assert sum(a[key] for a in data["per_action"].values()) == total
    assert data["metrics"]["latency_ms"]["count"] == counts["ok"]
    assert data["rate"]["target_per_s"] == target


def test_metric_block_values() -> None:
    summary = summarize([rec(i) for i in range(200)], target_rate_per_s=100.0)
    latency = summary.metrics["latency_ms"]
    assert latency.count == 200
    assert latency.min == pytest.approx(40.0) and latency.max == pytest.approx(46.0)
    assert latency.min <= latency.p50 <= latency.p99 <= latency.p99_9 <= latency.max  # type: ignore[operator]
    assert summary.metrics["itl_ms"].count == 400
    assert summary.tokens.output == 1800 and summary.tokens.input == 600
    assert summary.achieved_per_s == pytest.approx(100.0)
    assert summary.per_action["chat"].latency_p50_ms == pytest.approx(latency.p50)
