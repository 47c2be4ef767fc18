"""The Bottleneck section in the terminal, Markdown and HTML reports."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from agentload.analysis.attribution import PhaseWindows
from agentload.analysis.bottleneck import with_bottleneck
from agentload.analysis.summary import summarize
from agentload.records.record import Outcome, RequestRecord
from agentload.report import bottleneck_view
from agentload.report.markdown import summary_markdown
from agentload.report.terminal import render_summary

MS = 1_000_000


def store_bound_summary() -> Any:
    records = []
    for i in range(120):  # enough for a tail band (requests near p95)
        phases = {"store_read": 150.0, "store_write": 150.0, "decode": 60.0 + i % 3}
        total = sum(phases.values())
        records.append(
            RequestRecord(
                seq=i,
                worker=0,
                action="turn",
                intended_at=i * 50 * MS,
                sent_at=i * 50 * MS,
                done_at=i * 50 * MS + int((total + 1) * MS),
                outcome=Outcome.OK,
                phases_ms={**phases, "total": total},
            )
        )
    windows = PhaseWindows()
    for record in records:
        windows.add(record)
    return with_bottleneck(summarize(records, target_rate_per_s=None), windows)


def test_terminal_and_markdown_name_the_bottleneck_with_its_numbers() -> None:
    summary = store_bound_summary()
    console = Console(width=200, record=True)
    console.print(render_summary(summary))
    text = console.export_text()
    assert "bottleneck: context_store: the context store (confidence 0.80, strong)" in text
    assert "store_read 41%, store_write 41%" in text
    markdown = summary_markdown(summary.to_dict(), title="t")
    assert "**Bottleneck**: context_store: the context store (confidence 0.80, strong)" in markdown
    assert "| context_store | 83% | 83% |" in markdown


def test_the_html_plot_stacks_phase_shares_per_window() -> None:
    data = store_bound_summary().to_dict()["bottleneck"]
    chart = bottleneck_view.phase_share_chart(data)
    assert chart is not None and chart["x"] == "time"
    labels = [s["label"] for s in chart["series"]]
    assert labels[0] == "network_or_client" and labels[-1] == "decode"  # top drawn first
    xs, top, *_, bottom = chart["data"]
    assert xs == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # 1 s windows, plotted at their end
    assert top == pytest.approx([100.0] * 6, abs=0.05)  # all components: the whole latency
    assert all(15 < v < 18 for v in bottom)  # decode ~61 of ~362 ms
    html = bottleneck_view.html_section(data)
    assert "<h2>Bottleneck</h2>" in html and "store_read 41%" in html


def test_a_verdict_without_windows_has_no_plot() -> None:
    assert bottleneck_view.phase_share_chart({"name": "none", "confidence": 0.0}) is None
    assert bottleneck_view.confidence_word(0.2) == "weak: check the evidence"
