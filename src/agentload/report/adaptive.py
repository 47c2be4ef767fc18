"""The "Adaptive pacing" section of a run's reports, from ``RUN_DIR/adaptive.json``.

A run with ``load.model: adaptive`` (and the capacity search's first estimate,
``steps/00-adaptive``) writes that file: the target it held and where its AIMD controller
settled (layout: ``engine.adaptive.summarize_trajectory``). The run's terminal and HTML
reports and ``agentload report --json`` carry it, and the comparison page puts both runs'
side by side: "the new build holds p95 < 500 ms with 48 users instead of 12" is the
capacity answer in one line. The file name repeats ``engine.adaptive.SUMMARY_FILE`` (the
runtime layer, which reports may not import); a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agentload.report.html_page import esc, table
from agentload.report.run_files import load_run_json

ADAPTIVE_FILE: Final = "adaptive.json"
FIELDS: Final = (
    ("settled_limit", "settled users (median, second half)"),
    ("best_meeting_target", "most users meeting the target"),
    ("final_limit", "users at the end"),
    ("decisions", "controller decisions"),
    ("increases", "increases"),
    ("decreases", "decreases"),
)


def load_adaptive(run_dir: Path) -> dict[str, Any] | None:
    """adaptive.json of ``run_dir``; None when there is none. An unreadable one gives
    ``{"unreadable": reason}``: the reports say so rather than fail."""
    return load_run_json(
        run_dir / ADAPTIVE_FILE,
        lambda doc: isinstance(doc.get("target"), str),
        "an adaptive summary written by agentload run",
    )


def _count(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def adaptive_line(doc: Mapping[str, Any]) -> str:
    """One line for the terminal and the page's headline."""
    if "unreadable" in doc:
        return f"adaptive pacing: adaptive.json unreadable: {doc['unreadable']}"
    decisions = (
        f"{_count(doc.get('decisions'))} decisions: {_count(doc.get('increases'))} up, "
        f"{_count(doc.get('decreases'))} down"
    )
    head = f"adaptive pacing holding {doc.get('target', '?')}"
    if doc.get("decreases") == 0 and doc.get("decisions"):
        # Never cut: it ran out of time (or users) before the target broke.
        return (
            f"{head}: never had to cut; the target held up to "
            f"{_count(doc.get('best_meeting_target'))} users, a lower bound of what it can "
            f"take ({_count(doc.get('final_limit'))} at the end); {decisions}"
        )
    return (
        f"{head}: settled at {_count(doc.get('settled_limit'))} users (most meeting the "
        f"target {_count(doc.get('best_meeting_target'))}, {_count(doc.get('final_limit'))} at "
        f"the end); {decisions}"
    )


def adaptive_html(doc: Mapping[str, Any] | None) -> str:
    """The run page's section; "" without adaptive.json."""
    if doc is None:
        return ""
    return (
        '<section id="adaptive"><h2>Adaptive pacing</h2>'
        f'<p class="note">{esc(adaptive_line(doc))}</p></section>'
    )


def adaptive_compare_rows(
    base: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[list[str]]:
    """The target, then each field of both runs ("-" where a run has none)."""
    docs = [doc if doc is not None and "unreadable" not in doc else {} for doc in (base, new)]
    rows = [["target held", *(str(d.get("target", "-")) for d in docs)]]
    rows += [[label, *(_count(d.get(key)) for d in docs)] for key, label in FIELDS]
    return rows


def adaptive_compare_html(base: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """Both runs' adaptive results side by side for the comparison page; "" when neither
    run was adaptive. Different targets are named: their users are not comparable."""
    if base is None and new is None:
        return ""
    notes = [
        f"{side}: {adaptive_line(doc)}"
        for side, doc in (("base", base), ("new", new))
        if doc is not None and "unreadable" in doc
    ]
    targets = {doc.get("target") for doc in (base, new) if doc is not None and "target" in doc}
    if len(targets) > 1:
        notes.append("the runs held different targets: their user counts do not compare")
    if None in (base, new):
        notes.append(f"{'base' if base is None else 'new'}: no adaptive.json (not adaptive)")
    body = table(("", "base", "new"), adaptive_compare_rows(base, new))
    body += "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return f'<section id="adaptive"><h2>Adaptive pacing: base vs new</h2>{body}</section>'
