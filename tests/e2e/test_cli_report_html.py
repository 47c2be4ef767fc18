"""``agentload report RUN_DIR --html`` opened in headless Chromium (the Debian package).

The page writes its own state into the DOM (``data-plots-rendered`` on <body>, errors in
``#js-errors``), so ``--dump-dom`` tells whether every chart drew and no script failed; a
screenshot is kept under test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agentload.records.samples import TELEMETRY_FILE, Sample, SampleWriter
from agentload.report.html_capacity import write_capacity_html
from tests.e2e.test_cli import REPO, agentload, assert_no_traceback
from tests.unit.report.test_html import write_run
from tests.unit.report.test_html_capacity import write_capacity

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"
EVIL_DOM = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"><script>x</script>"

CHART_DATA = r'<script id="chart-data" type="application/json">(.*?)</script>'
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (make services installs it)"
)


def chromium(url: str, *args: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--window-size=1400,2600",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_report_html_flag_writes_the_file(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", n=300)
    proc = agentload("report", str(run), "--html")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert (run / "report.html").is_file()
    other = tmp_path / "elsewhere.html"
    proc = agentload("report", str(run), "--html-to", str(other), "--md")
    assert proc.returncode == 0 and other.is_file()
    assert proc.stdout.startswith("### agentload:")


@needs_chromium
def test_every_plot_renders_in_chromium_without_errors(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", n=3000)
    # a target's hostile error message, planted in the records
    patched = []
    for line in (run / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("outcome") == "error":
            record["error_message"] = EVIL_DOM
        patched.append(json.dumps(record))
    (run / "records.jsonl").write_text("\n".join(patched) + "\n")
    proc = agentload("report", str(run), "--html")
    assert proc.returncode == 0, proc.stderr
    url = (run / "report.html").as_uri()
    dom = chromium(url, "--dump-dom")
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    # 7 run plots and the Bottleneck section's phase shares over time
    assert 'data-plots-rendered="8"' in body.group(0), body.group(0)
    assert "data-pwned" not in body.group(0)  # the hostile message stayed text
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    for plot in re.findall(r'<div class="plot" id="plot-[^"]+">(.*?)</figure>', dom, re.S):
        assert "<canvas" in plot
    assert dom.count("<canvas") >= 8
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    chromium(url, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000


@needs_chromium
def test_sessions_telemetry_and_capacity_pages_render_in_chromium(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", n=1200, evil=False)
    patched = []
    for i, line in enumerate((run / "records.jsonl").read_text().splitlines()):
        record = json.loads(line)
        record.update(session_id=f"s{i // 4}", turn=i % 4, persona="buyer" if i % 3 else "browser")
        patched.append(json.dumps(record))
    (run / "records.jsonl").write_text("\n".join(patched) + "\n")
    writer = SampleWriter(run / TELEMETRY_FILE)
    for i in range(120):  # 12 s at 10 Hz: host and GPU collectors, several units
        at_ns = i * 100_000_000
        writer.add(Sample(at_ns, "host", {"cpu_percent": 20 + i % 7, "mem_used_bytes": 2e9 + i}))
        writer.add(Sample(at_ns, "gpu", {"gpu0.util_percent": 60.0, "gpu0.power_watts": 250.0}))
    writer.close()
    proc = agentload("report", str(run), "--html")
    assert proc.returncode == 0, proc.stderr
    page = (run / "report.html").read_text()
    assert "<h2>Per persona</h2>" in page and "<h2>Per turn (sessions)</h2>" in page
    assert 'id="plot-telemetry-host-percent"' in page and 'id="plot-telemetry-gpu-watts"' in page
    capacity = tmp_path / "capacity"
    write_capacity(capacity)
    capacity_page = write_capacity_html(capacity)
    ARTIFACTS.mkdir(exist_ok=True)
    for html_file, shot_name in ((run / "report.html", "report-sessions-telemetry.png"),
                                 (capacity_page, "capacity.png")):  # fmt: skip
        text = html_file.read_text()
        expected = len(json.loads(re.search(CHART_DATA, text).group(1)))  # type: ignore[union-attr]
        dom = chromium(html_file.as_uri(), "--dump-dom")
        body = re.search(r"<body[^>]*>", dom)
        assert body is not None and f'data-plots-rendered="{expected}"' in body.group(0)
        errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
        assert errors is not None and errors.group(1).strip() == ""
        for plot in re.findall(r'<div class="plot" id="plot-[^"]+">(.*?)</figure>', dom, re.S):
            assert "<canvas" in plot
        shot = ARTIFACTS / shot_name
        chromium(html_file.as_uri(), f"--screenshot={shot}")
        assert shot.stat().st_size > 10_000


@needs_chromium
def test_untrusted_run_with_a_network_probe_renders_in_chromium(tmp_path: Path) -> None:
    """A run whose generator fell behind says so first; probe.json adds a section."""
    run = write_run(tmp_path / "run", n=600, evil=False)
    patched = []
    for line in (run / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("sent_at") is not None:  # every send 30 ms late: p99 lag > 10 ms
            record["sent_at"] = record["intended_at"] + 30_000_000
            record["done_at"] = max(record["done_at"], record["sent_at"] + 1_000_000)
        patched.append(json.dumps(record))
    (run / "records.jsonl").write_text("\n".join(patched) + "\n")
    probe = {
        "url": "http://127.0.0.1:8000/healthz",
        "rounds": 3,
        "body_bytes": 0,
        "status_codes": {"200": 3},
        "upload_status_codes": {},
        "keep_alive_rounds": 3,
        "errors": {"<img src=x onerror=alert(1)>": 1},
        "measurements": {"connect_ms": dict(n=3, min=0.1, mean=0.2, p50=0.2, p90=0.3, max=0.3)},
        "keep_alive_saving_ms": 0.4,
    }
    (run / "probe.json").write_text(json.dumps(probe))
    proc = agentload("report", str(run), "--html")
    assert proc.returncode == 0, proc.stderr
    assert "NOT TRUSTWORTHY" in proc.stdout and "network probe" in proc.stdout
    page = run / "report.html"
    dom = chromium(page.as_uri(), "--dump-dom")
    banner = re.search(r'<p class="fail" id="untrusted"[^>]*>(.*?)</p>', dom, re.S)
    assert banner is not None and "NOT TRUSTWORTHY: generator fell behind" in banner.group(1)
    assert dom.index('id="untrusted"') < dom.index('class="cards"')
    assert '<section id="network-probe">' in dom and "TCP connect" in dom
    assert "<img src=x" not in dom  # the error text stayed text
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-untrusted-probe.png"
    chromium(page.as_uri(), f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
