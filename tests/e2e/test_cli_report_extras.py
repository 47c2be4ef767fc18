"""A run's network probe (probe.json) and adaptive-pacing result (adaptive.json) in
``agentload report --json`` and on the page of ``agentload compare --html-to``, as a user
gets them from the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from agentload.report.adaptive import ADAPTIVE_FILE
from agentload.report.probe import PROBE_FILE
from tests.e2e.test_cli import agentload, assert_no_traceback
from tests.e2e.test_cli_report_html import ARTIFACTS, chromium, needs_chromium
from tests.unit.analysis.test_compare import make_run
from tests.unit.report.test_adaptive_report import trajectory_doc
from tests.unit.report.test_html import write_run
from tests.unit.report.test_summary_schema import SCHEMA_PATH
from tests.unit.report.test_trust_jobs_probe import _probe_doc

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def report_json(run: Path) -> dict[str, Any]:
    proc = agentload("report", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_report_json_carries_the_probe_and_matches_the_schema(
    validator: Any, tmp_path: Path
) -> None:
    run = write_run(tmp_path / "run", n=200, evil=False)
    without = report_json(run)
    assert without["probe"] is None and without["adaptive"] is None
    assert without["run_status"] == "complete"
    assert list(validator.iter_errors(without)) == []
    probe, adaptive = _probe_doc(), trajectory_doc()
    (run / PROBE_FILE).write_text(json.dumps(probe))
    (run / ADAPTIVE_FILE).write_text(json.dumps(adaptive))
    data = report_json(run)
    assert data["probe"] == probe and data["adaptive"] == adaptive
    assert data["probe"]["measurements"]["connect_ms"]["n"] == 5
    assert data["counts"] == without["counts"]  # the summary itself is unchanged
    assert list(validator.iter_errors(data)) == []
    data["probe"]["measurements"]["connect_ms"]["p99"] = "slow"  # the schema checks the probe
    assert list(validator.iter_errors(data)) != []
    data["adaptive"]["settled_limit"] = -1
    assert list(validator.iter_errors(data)) != []
    (run / PROBE_FILE).write_text("{cut off")
    (run / ADAPTIVE_FILE).write_text("")
    broken = report_json(run)
    assert broken["probe"]["unreadable"].startswith(f"{run / PROBE_FILE}: ")  # not fatal
    assert broken["adaptive"]["unreadable"].startswith(f"{run / ADAPTIVE_FILE}: ")
    assert list(validator.iter_errors(broken)) == []


@needs_chromium
def test_compare_page_shows_probe_and_adaptive_panels_in_chromium(tmp_path: Path) -> None:
    base, new = make_run(tmp_path / "base", 1), make_run(tmp_path / "new", 2, queue_ms=40.0)
    page = tmp_path / "compare.html"
    proc = agentload("compare", str(base), str(new), "--html-to", str(page))
    assert proc.returncode == 0, proc.stderr
    assert "Network probe" not in page.read_text()  # neither run has one
    assert "Adaptive pacing" not in page.read_text()
    (base / PROBE_FILE).write_text(json.dumps(_probe_doc()))
    (new / ADAPTIVE_FILE).write_text(json.dumps(trajectory_doc()))
    proc = agentload("compare", str(base), str(new), "--html-to", str(page))
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    dom = chromium(page.as_uri(), "--dump-dom")
    panel = re.search(r'<section id="network-probe">(.*?)</section>', dom, re.S)
    assert panel is not None
    assert "base: probe of http://127.0.0.1:8000/healthz: 6 rounds" in panel.group(1)
    assert "new: no probe.json" in panel.group(1)
    assert re.search(r"TCP connect</td><td[^>]*>500µs</td><td[^>]*>-</td>", panel.group(1))
    assert "timeout &lt;script&gt;" in panel.group(1)  # the target's text stayed text
    adaptive = re.search(r'<section id="adaptive">(.*?)</section>', dom, re.S)
    assert adaptive is not None and "base: no adaptive.json" in adaptive.group(1)
    assert re.search(r"settled users[^<]*</td><td[^>]*>-</td><td[^>]*>6</td>", adaptive.group(1))
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None and 'data-plots-rendered="2"' in body.group(0), body.group(0)
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "compare-probe.png"
    chromium(page.as_uri(), f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
