"""An adaptive run's result (adaptive.json) in the run's reports and on the comparison page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.analysis.summary import summarize
from agentload.engine.adaptive import SUMMARY_FILE, summarize_trajectory
from agentload.report.adaptive import (
    ADAPTIVE_FILE,
    FIELDS,
    adaptive_compare_html,
    adaptive_compare_rows,
    adaptive_html,
    adaptive_line,
    load_adaptive,
)
from agentload.report.html import render_run_html
from agentload.report.markdown import summary_markdown
from tests.unit.report.test_html import write_run


def trajectory_doc(target: str = "p95(latency) < 500ms") -> dict[str, Any]:
    """Doubling 1 → 8 users under the target, one cut to 6 when it broke, then holding."""
    steps = [(0.0, 1, None, "start"), (1.0, 2, 50.0, "increase"), (2.0, 4, 90.0, "increase")]
    steps += [(3.0, 8, 300.0, "increase"), (4.0, 6, 700.0, "decrease"), (5.0, 6, 450.0, "hold")]
    steps += [(6.0, 6, 430.0, "hold")]
    trajectory = [
        {"t_s": t, "limit": limit, "observed_ms": observed, "action": action}
        for t, limit, observed, action in steps
    ]
    return summarize_trajectory(target, 500.0, trajectory)


def test_file_name_matches_the_engine() -> None:
    assert ADAPTIVE_FILE == SUMMARY_FILE


def test_line_and_run_page(tmp_path: Path) -> None:
    doc = trajectory_doc()
    assert adaptive_line(doc) == (
        "adaptive pacing holding p95(latency) < 500ms: settled at 6 users (most meeting the "
        "target 6, 6 at the end); 6 decisions: 3 up, 1 down"  # 8 users broke it (700 ms)
    )
    rising = [
        {"t_s": float(i), "limit": 2**i, "observed_ms": None if i == 0 else 10.0 * i, "action": a}
        for i, a in enumerate(("start", "increase", "increase", "increase"))
    ]
    assert adaptive_line(summarize_trajectory("p95(latency) < 1s", 1000.0, rising)) == (
        "adaptive pacing holding p95(latency) < 1s: never had to cut; the target held up to "
        "4 users, a lower bound of what it can take (8 at the end); 3 decisions: 3 up, 0 down"
    )
    summary = summarize([], target_rate_per_s=None).to_dict()
    markdown = summary_markdown(summary, title="t", adaptive=doc)
    assert "\nadaptive pacing holding p95(latency) < 500ms: settled at 6 users" in markdown
    assert "adaptive pacing" not in summary_markdown(summary, title="t")
    run = write_run(tmp_path / "run", n=100, evil=False)
    assert load_adaptive(run) is None and 'id="adaptive"' not in render_run_html(run)
    (run / ADAPTIVE_FILE).write_text(json.dumps(doc))
    assert load_adaptive(run) == doc
    page = render_run_html(run)
    assert adaptive_html(doc) in page and "p95(latency) &lt; 500ms: settled at 6 users" in page
    (run / ADAPTIVE_FILE).write_text("[1, 2]")
    broken = load_adaptive(run)
    assert broken == {"unreadable": f"{run / ADAPTIVE_FILE}: not an adaptive summary written by "
                      "agentload run"}  # fmt: skip
    assert "adaptive.json unreadable" in render_run_html(run)


def test_compare_panel_names_what_does_not_compare() -> None:
    assert adaptive_compare_html(None, None) == ""
    base, new = trajectory_doc(), trajectory_doc("p99(latency) < 2s")
    one_side = adaptive_compare_html(base, None)
    assert "<h2>Adaptive pacing: base vs new</h2>" in one_side
    assert "new: no adaptive.json (not adaptive)" in one_side
    assert "different targets" not in one_side
    both = adaptive_compare_html(base, new)
    assert "the runs held different targets: their user counts do not compare" in both
    assert "p99(latency) &lt; 2s" in both and "<2s" not in both
    unreadable = adaptive_compare_html({"unreadable": "x: <bad>"}, base)
    assert "base: adaptive pacing: adaptive.json unreadable: x: &lt;bad&gt;" in unreadable


side = st.none() | st.fixed_dictionaries(
    {"target": st.text(max_size=20)},
    optional={key: st.integers(0, 10_000) | st.floats(0, 1e4) for key, _ in FIELDS},
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(side, side)
def test_rows_cover_every_field_and_dash_what_a_run_lacks(
    base: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    rows = adaptive_compare_rows(base, new)
    assert [row[0] for row in rows] == ["target held", *(label for _, label in FIELDS)]
    for column, doc in ((1, base), (2, new)):
        assert rows[0][column] == ("-" if doc is None else doc["target"])
        for (key, _), row in zip(FIELDS, rows[1:], strict=True):
            assert (row[column] == "-") is (doc is None or key not in doc)
