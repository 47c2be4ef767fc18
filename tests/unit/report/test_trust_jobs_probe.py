"""The trust flag, the async-jobs line and the network probe in every report of a run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from agentload.analysis.summary import Summary, summarize
from agentload.clients.probe import ProbeTarget, Round
from agentload.clients.probe_summary import MEASUREMENTS as PROBE_MEASUREMENTS
from agentload.clients.probe_summary import summarise
from agentload.records.rundir import RunDir
from agentload.report.html import render_run_html
from agentload.report.markdown import cell, summary_markdown
from agentload.report.probe import MEASUREMENTS, PROBE_FILE, load_probe, probe_renderable
from agentload.report.terminal import render_summary
from tests.unit.report.test_html import write_run
from tests.unit.report.test_terminal import ok, text_of

REASON = "generator fell behind: p99 schedule lag 80.0ms > 10.0ms"
JOBS = {
    "count": 27,
    "succeeded": 26,
    "polls": 84,
    "polls_per_job": {"mean": 3.1, "max": 5},
    "poll_overhead_ms": {"count": 26, "mean": 150.0, "p50": 120.0, "p90": 410.0},
    "queue_wait_ms": {"count": 26, "p50": 2.0},
    "execution_ms": {"count": 26, "p50": 1410.0},
}


def _summary(**changes: object) -> Summary:
    base = summarize([ok(i) for i in range(20)], target_rate_per_s=None)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_terminal_puts_an_untrusted_run_first_and_shows_jobs() -> None:
    text = text_of(render_summary(_summary(untrustworthy_because=(REASON,), jobs=JOBS)))
    first = text.splitlines()[0]
    assert first.startswith("NOT TRUSTWORTHY: generator fell behind"), first
    text = " ".join(text.split())  # rich wraps long lines
    assert "async jobs 27 (26 ok) · 3.1 polls/job (max 5)" in text
    assert "poll overhead p50 120ms, p90 410ms" in text and "execution p50 1.41s" in text
    trusted = text_of(render_summary(_summary()))
    assert "TRUSTWORTHY" not in trusted and "async jobs" not in trusted


def test_markdown_says_untrusted_before_any_number() -> None:
    data = _summary(untrustworthy_because=(REASON,)).to_dict()
    lines = summary_markdown(data, title="t").splitlines()
    assert lines[2].startswith("**⚠️ NOT TRUSTWORTHY: generator fell behind"), lines[:4]
    assert "requests" in lines[4]
    assert "NOT TRUSTWORTHY" not in summary_markdown(_summary().to_dict(), title="t")


def _write_summary(path: Path, **changes: object) -> None:
    data = summarize(RunDir(path).iter_records(), target_rate_per_s=None).to_dict()
    data.update(changes)
    (path / "summary.json").write_text(json.dumps(data))


def test_html_shows_trust_at_the_top_and_in_the_cards(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run", evil=False)
    _write_summary(path, trustworthy=False, trust_reasons=[REASON + " <b>"])
    text = render_run_html(path)
    banner = text.index('id="untrusted"')
    assert banner < text.index('class="cards"') < text.index("<h2>")
    assert "NOT TRUSTWORTHY: generator fell behind" in text
    assert "&lt;b&gt;" in text and "> 10.0ms <b>" not in text  # escaped
    assert '<div class="label">trustworthy</div><div class="value">NO</div>' in text
    _write_summary(path, trustworthy=True, trust_reasons=[])
    text = render_run_html(path)
    assert 'id="untrusted"' not in text
    assert '<div class="label">trustworthy</div><div class="value">yes</div>' in text


def _probe_doc() -> dict[str, object]:
    """A probe summary as ``agentload probe`` writes it, from rounds with known values."""
    target = ProbeTarget.parse("http://127.0.0.1:8000/healthz")
    rounds = [
        Round(
            values={
                "dns_ms": 0.02,
                "connect_ms": 0.3 + i / 10,
                "ttfb_new_ms": 2.0 + i,
                "ttfb_reused_ms": 1.0,
                "new_connection_ms": 2.5 + i,
                "upload_mb_per_s": 800.0,
            },
            status=200,
            keep_alive=True,
            upload_status=422,
        )
        for i in range(5)
    ]
    rounds.append(Round(error="timeout <script>"))
    return summarise(target, rounds, 4_000_000)


def test_labels_match_the_probe_command() -> None:
    assert MEASUREMENTS == PROBE_MEASUREMENTS


def test_probe_section_in_terminal_markdown_and_html(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run", evil=False)
    assert load_probe(path) is None
    assert "Network probe" not in render_run_html(path)
    (path / PROBE_FILE).write_text(json.dumps(_probe_doc()))
    probe = load_probe(path)
    assert probe is not None
    terminal = text_of(probe_renderable(probe))
    assert "probe of http://127.0.0.1:8000/healthz: 6 rounds, keep-alive reused in 5" in terminal
    assert "TCP connect" in terminal and "500µs" in terminal  # p50 of 0.3..0.7 ms
    assert "keep-alive saves 3.5ms per request at p50" in terminal  # 4.5 - 1.0
    assert "upload throughput (MB/s)" in terminal and "800.0" in terminal
    assert "error (1x): timeout <script>" in terminal
    markdown = summary_markdown(_summary().to_dict(), title="t", probe=probe)
    assert "**Network probe**" in markdown and "| TCP connect | 5 | 500µs |" in markdown
    html = render_run_html(path)
    assert '<section id="network-probe"><h2>Network probe</h2>' in html
    assert "timeout &lt;script&gt;" in html and "timeout <script>" not in html
    assert cell("a|b") == "a\\|b"


def test_an_unreadable_probe_file_is_reported_not_fatal(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run", n=50, evil=False)
    (path / PROBE_FILE).write_text("{not json")
    probe = load_probe(path)
    assert probe is not None and "unreadable" in probe
    assert "probe.json unreadable" in render_run_html(path)
    assert "probe.json unreadable" in text_of(probe_renderable(probe))
