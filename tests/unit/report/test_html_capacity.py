"""capacity.html from a capacity.json: the curve, knee and capacity markers, the steps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentload.errors import RunDirError
from agentload.report.html_capacity import (
    capacity_charts,
    read_capacity,
    render_capacity_html,
    write_capacity_html,
)

STEPS = [  # value, completed/s, p50, p99, error rate, verdict (one value run twice)
    (10, 10.0, 40.0, 60.0, 0.0, "pass"),
    (20, 19.9, 41.0, 65.0, 0.0, "pass"),
    (40, 39.5, 45.0, 90.0, 0.0, "pass"),
    (80, 60.0, 300.0, 2400.0, 0.05, "fail"),
    (60, 55.0, 90.0, 400.0, 0.0, "uncertain"),
    (60, 55.5, 92.0, 420.0, 0.001, "pass"),
]


def write_capacity(path: Path, *, knee: object = None, capacity: float | None = 60) -> Path:
    path.mkdir(parents=True)
    doc = {
        "schema_version": 1,
        "name": "chat <capacity>",
        "vary": "rate",
        "unit": "requests/s",
        "capacity": capacity,
        "lower": 60,
        "upper": 80,
        "knee": {"value": 50.0, "p99_ms": 245.0} if knee is None else knee,
        "steps": [
            {"index": i + 1, "value": v, "completed_per_s": r, "p50_ms": p50, "p99_ms": p99,
             "error_rate": e, "verdict": verdict}
            for i, (v, r, p50, p99, e, verdict) in enumerate(STEPS)
        ],
    }  # fmt: skip
    (path / "capacity.json").write_text(json.dumps(doc))
    return path


def test_reader_takes_the_documented_fields(tmp_path: Path) -> None:
    result = read_capacity(write_capacity(tmp_path / "c"))
    assert (result.capacity, result.lower, result.upper, result.knee) == (60, 60, 80, 50.0)
    assert [s.value for s in result.steps] == [10, 20, 40, 80, 60, 60]
    assert result.steps[3].achieved_rate_per_s == 60.0 and result.steps[3].verdict == "fail"
    assert read_capacity(write_capacity(tmp_path / "k", knee=45)).knee == 45


def test_curve_has_one_point_per_value_and_markers_on_the_p99_line(tmp_path: Path) -> None:
    latency, errors = capacity_charts(read_capacity(write_capacity(tmp_path / "c")))
    xs, p50, p99, rate, knee, capacity = latency["data"]
    assert xs == [10, 20, 40, 50.0, 60, 80]  # the knee's x inserted between steps
    assert p50[0] == 40.0 and rate[5] == 60.0
    assert p99[4] == 420.0  # the last run at 60 stands for the value
    assert p99[3] == pytest.approx(90 + (420 - 90) * 10 / 20)  # unbroken through the knee
    assert knee == [None, None, None, p99[3], None, None]
    assert capacity == [None, None, None, None, 420.0, None]
    assert [s["label"] for s in latency["series"]][-2:] == ["knee (p99)", "capacity (p99)"]
    assert errors["data"][1] == [0.0, 0.0, 0.0, 0.1, 5.0]


def test_page_is_escaped_and_names_capacity_and_knee(tmp_path: Path) -> None:
    run = write_capacity(tmp_path / "c")
    page = write_capacity_html(run).read_text()
    assert "chat &lt;capacity&gt;" in page and "<capacity>" not in page
    assert re.search(r"capacity</div><div class=\"value\">60 requests/s", page)
    assert "pass · capacity" in page and 'id="plot-capacity-latency"' in page
    no_capacity = render_capacity_html(write_capacity(tmp_path / "n", capacity=None))
    assert "between 60 and 80" in no_capacity


def test_missing_or_bad_file_is_a_run_dir_error(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="missing"):
        read_capacity(tmp_path)
    (tmp_path / "capacity.json").write_text("[1, 2]")
    with pytest.raises(RunDirError, match="JSON object"):
        read_capacity(tmp_path)
