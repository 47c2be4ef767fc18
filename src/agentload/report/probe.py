"""The "Network probe" section of a run's reports, from ``RUN_DIR/probe.json``.

``agentload probe URL --out RUN_DIR`` writes that file (its layout: ``clients.probe_summary``;
a ``measurements`` entry per step, each ``{n, min, mean, p50, p90, p99, max}`` in ms, the
upload in MB/s). The terminal, Markdown and HTML reports show it when it exists, so the
network's share of a latency can be read beside the run: a p99 of 40 ms with a 30 ms TCP
connect is a network problem, not the agent's. The labels repeat ``probe_summary``'s (that
module belongs to the runtime layer, which reports may not import); a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentload.report.html_page import esc, table
from agentload.report.run_files import load_run_json
from agentload.units import format_duration_ms

PROBE_FILE: Final = "probe.json"
MEASUREMENTS: Final = (
    ("dns_ms", "DNS lookup"),
    ("connect_ms", "TCP connect"),
    ("tls_ms", "TLS handshake"),
    ("ttfb_new_ms", "first byte, new connection"),
    ("ttfb_reused_ms", "first byte, reused connection"),
    ("new_connection_ms", "new connection to first byte"),
    ("upload_mb_per_s", "upload throughput (MB/s)"),
)
HEADERS: Final = ("measurement", "n", "p50", "p90", "p99", "max")


def load_probe(run_dir: Path) -> dict[str, Any] | None:
    """probe.json of ``run_dir``; None when there is none. An unreadable one gives
    ``{"unreadable": reason}``: the reports say so rather than fail."""
    return load_run_json(
        run_dir / PROBE_FILE,
        lambda doc: isinstance(doc.get("measurements"), dict),
        "a probe summary written by agentload probe",
    )


def _value(key: str, value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:,.1f}" if key == "upload_mb_per_s" else format_duration_ms(value)


def probe_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    measurements = doc.get("measurements") or {}
    rows = []
    for key, label in MEASUREMENTS:
        stats = measurements.get(key)
        if not isinstance(stats, Mapping):
            continue
        n = stats.get("n")
        rows.append(
            [label, f"{n:,}" if isinstance(n, int) else "-"]
            + [_value(key, stats.get(c)) for c in ("p50", "p90", "p99", "max")]
        )
    return rows


def probe_notes(doc: Mapping[str, Any]) -> list[str]:
    """The headline and what the table does not say: keep-alive's saving, statuses, errors."""
    if "unreadable" in doc:
        return [f"probe.json unreadable: {doc['unreadable']}"]
    statuses = doc.get("status_codes") or {}
    status_text = ", ".join(f"{k}: {v}" for k, v in statuses.items()) or "none"
    lines = [
        f"probe of {doc.get('url', '?')}: {doc.get('rounds', 0)} rounds, "
        f"keep-alive reused in {doc.get('keep_alive_rounds', 0)}, statuses {status_text}"
    ]
    saving = doc.get("keep_alive_saving_ms")
    if isinstance(saving, int | float):
        lines.append(f"keep-alive saves {format_duration_ms(saving)} per request at p50")
    uploads = doc.get("upload_status_codes") or {}
    if uploads:
        lines.append("upload answered " + ", ".join(f"{k}: {v}" for k, v in uploads.items()))
    errors = doc.get("errors") or {}
    lines += [f"error ({count}x): {error}" for error, count in errors.items()]
    return lines


def probe_renderable(doc: Mapping[str, Any]) -> RenderableType:
    """For the terminal report."""
    notes = probe_notes(doc)
    rows = probe_rows(doc)
    if not rows:
        return Group(Text("network probe", style="bold"), *(Text(n) for n in notes))
    out = Table(title="network probe", title_justify="left")
    for name in HEADERS:
        out.add_column(name, justify="left" if name == "measurement" else "right")
    for row in rows:
        out.add_row(*row)
    return Group(Text(notes[0]), out, *(Text(n) for n in notes[1:]))


def probe_markdown(doc: Mapping[str, Any], cell: Callable[[object], str]) -> list[str]:
    notes = probe_notes(doc)
    lines = ["", "**Network probe**", "", cell(notes[0])]
    if rows := probe_rows(doc):
        lines += ["", "| " + " | ".join(HEADERS) + " |", "|---|--:|--:|--:|--:|--:|"]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    if notes[1:]:
        lines += ["", *(f"- {cell(n)}" for n in notes[1:])]
    return lines


def probe_html(doc: Mapping[str, Any] | None) -> str:
    if doc is None:
        return ""
    notes = probe_notes(doc)
    rows = probe_rows(doc)
    body = f'<p class="note">{esc(notes[0])}</p>'
    if rows:
        body += table(HEADERS, rows)
    if notes[1:]:
        body += "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes[1:]) + "</ul>"
    return f'<section id="network-probe"><h2>Network probe</h2>{body}</section>'


COMPARE_HEADERS: Final = ("measurement", "base p50", "new p50", "base p99", "new p99")


def probe_compare_rows(
    base: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[list[str]]:
    """One row per measurement either side has: p50 and p99 of base and new ("-": absent)."""
    sides = [(doc or {}).get("measurements") or {} for doc in (base, new)]
    rows = []
    for key, label in MEASUREMENTS:
        stats = [m.get(key) if isinstance(m.get(key), Mapping) else None for m in sides]
        if stats == [None, None]:
            continue
        cells = [_value(key, s.get(c)) if s else "-" for c in ("p50", "p99") for s in stats]
        rows.append([label, *cells])
    return rows


def probe_compare_html(base: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """Both runs' network probes side by side, for the comparison page; "" when neither run
    has probe.json. A slower network on one side explains a latency change the agent did
    not cause."""
    if base is None and new is None:
        return ""
    notes = [
        f"{side}: " + (probe_notes(doc)[0] if doc is not None else "no probe.json")
        for side, doc in (("base", base), ("new", new))
    ]
    errors = [
        f"{side} {note}"
        for side, doc in (("base", base), ("new", new))
        if doc is not None
        for note in probe_notes(doc)[1:]
        if note.startswith("error")
    ]
    body = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    if rows := probe_compare_rows(base, new):
        body += table(COMPARE_HEADERS, rows)
    if errors:
        body += "<ul>" + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul>"
    return f'<section id="network-probe"><h2>Network probe: base vs new</h2>{body}</section>'
