"""Both runs' network probes side by side on the comparison page."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.report.probe import (
    MEASUREMENTS,
    probe_compare_html,
    probe_compare_rows,
)
from tests.unit.report.test_trust_jobs_probe import _probe_doc

KEYS = [key for key, _ in MEASUREMENTS]
LABELS = dict(MEASUREMENTS)


def doc_with(values: dict[str, float]) -> dict[str, Any]:
    """A probe summary whose every statistic of a measurement is ``values[key]`` ms."""
    stats = {k: {"n": 3, "p50": v, "p90": v, "p99": v, "max": v} for k, v in values.items()}
    return {"url": "http://127.0.0.1:1/", "rounds": 3, "measurements": stats}


side = st.none() | st.dictionaries(
    st.sampled_from(KEYS), st.floats(0.001, 5_000, allow_nan=False), max_size=len(KEYS)
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(side, side)
def test_a_row_per_measurement_either_side_has_and_dashes_where_one_lacks_it(
    base: dict[str, float] | None, new: dict[str, float] | None
) -> None:
    base_doc = None if base is None else doc_with(base)
    new_doc = None if new is None else doc_with(new)
    rows = probe_compare_rows(base_doc, new_doc)
    present = set(base or {}) | set(new or {})
    assert [row[0] for row in rows] == [LABELS[k] for k in KEYS if k in present]  # fixed order
    for key, row in zip((k for k in KEYS if k in present), rows, strict=True):
        b, n = key in (base or {}), key in (new or {})
        _, base_p50, new_p50, base_p99, new_p99 = row
        assert (base_p50 == "-") is not b and (base_p99 == "-") is not b
        assert (new_p50 == "-") is not n and (new_p99 == "-") is not n
        if b:  # p50 == p99 in these documents, so both columns agree
            assert base_p50 == base_p99


def test_panel_names_each_side_and_escapes_the_target_text() -> None:
    assert probe_compare_html(None, None) == ""
    real = _probe_doc()  # TCP connect p50 0.5 ms, an error "timeout <script>"
    only_base = probe_compare_html(real, None)
    assert '<section id="network-probe"><h2>Network probe: base vs new</h2>' in only_base
    assert "base: probe of http://127.0.0.1:8000/healthz: 6 rounds" in only_base
    assert "new: no probe.json" in only_base
    assert '<td class="">TCP connect</td><td class="num">500µs</td>' in only_base
    assert "base error (1x): timeout &lt;script&gt;" in only_base
    assert "<script>" not in only_base
    slower = doc_with({"connect_ms": 30.0})
    both = probe_compare_html(real, slower)
    row = '<td class="">TCP connect</td><td class="num">500µs</td><td class="num">30.0ms</td>'
    assert row in both  # base p50, then new p50
    unreadable = probe_compare_html({"unreadable": "probe.json: <bad>"}, slower)
    assert "base: probe.json unreadable: probe.json: &lt;bad&gt;" in unreadable
