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

from tests.e2e.test_cli import REPO, agentload, assert_no_traceback
from tests.unit.report.test_html import write_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"
EVIL_DOM = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"><script>x</script>"

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
    assert 'data-plots-rendered="7"' in body.group(0), body.group(0)
    assert "data-pwned" not in body.group(0)  # the hostile message stayed text
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    for plot in re.findall(r'<div class="plot" id="plot-[^"]+">(.*?)</figure>', dom, re.S):
        assert "<canvas" in plot
    assert dom.count("<canvas") >= 7
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    chromium(url, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
