"""report.html: content, escaping, series maths and downsampling (the browser check is e2e)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from agentload.analysis.summary import summarize
from agentload.records.record import ErrorKind, Outcome, RequestRecord
from agentload.records.rundir import RunDir
from agentload.report.html import HTML_FILE, render_run_html, write_run_html
from agentload.report.html_downsample import lttb_indices
from agentload.report.html_page import script_json
from agentload.report.html_series import SeriesBuilder, per_second_percentiles

MS = 1_000_000
EVIL = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def write_run(path: Path, n: int = 400, *, evil: bool = True) -> Path:
    run_dir = RunDir.create(path)
    run_dir.write_meta(
        {
            "name": "demo <b>",
            "protocol": "openai-chat",
            "status": "complete",
            "target_rate_per_s": 100.0,
            "seed": 1,
        }
    )
    writer = run_dir.record_writer()
    rng = np.random.default_rng(0)
    for i in range(n):
        intended = i * 10 * MS
        latency = int(rng.lognormal(np.log(40), 0.3) * MS)
        if i % 50 == 7:
            writer.add(
                RequestRecord(
                    seq=i,
                    worker=0,
                    action="chat",
                    intended_at=intended,
                    sent_at=intended,
                    done_at=intended + latency,
                    outcome=Outcome.ERROR,
                    error_kind=ErrorKind.HTTP_5XX,
                    error_message=EVIL if evil else "boom",
                )
            )
            continue
        writer.add(
            RequestRecord(
                seq=i,
                worker=0,
                action="chat" if i % 3 else "search",
                intended_at=intended,
                sent_at=intended + MS // 10,
                first_token_at=intended + latency // 3,
                done_at=intended + latency,
                outcome=Outcome.OK,
                output_tokens=8,
                itl_ms=tuple(float(x) for x in rng.gamma(4, 1, size=7)),
            )
        )
    writer.close()
    return path


def chart_data(text: str) -> list[dict[str, object]]:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', text)
    assert match is not None
    data: list[dict[str, object]] = json.loads(match.group(1))
    return data


def test_report_has_cards_tables_and_every_chart(tmp_path: Path) -> None:
    text = render_run_html(write_run(tmp_path / "run"))
    for label in ("achieved rate", "latency p99", "TTFT p50", "error rate", "verdict"):
        assert label in text
    ids = {c["id"] for c in chart_data(text)}
    assert ids == {
        "latency-time",
        "latency-spectrum",
        "latency-histogram",
        "ttft-itl",
        "rate-time",
        "errors-time",
        "lag-time",
    }
    for chart_id in ids:
        assert f'id="plot-{chart_id}"' in text
    assert "Per action" in text and "search" in text
    assert text.count("var uPlot=") == 1  # the library is embedded once


def test_text_from_the_target_is_escaped(tmp_path: Path) -> None:
    text = render_run_html(write_run(tmp_path / "run"))
    assert "window.__pwned" in text  # it is shown ...
    assert "<script>window.__pwned" not in text  # ... but never as markup
    assert "<img src=x onerror" not in text
    assert "demo &lt;b&gt;" in text
    assert script_json(["</script>"]) == '["\\u003c/script\\u003e"]'


def test_thresholds_from_summary_json_are_shown(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run")
    data = summarize(RunDir(path).iter_records(), target_rate_per_s=None).to_dict()
    common = {"unit": "ms", "samples": 393, "no_data": False, "few_samples": False}
    data["thresholds"] = [
        {"expr": "p99(latency) < 1ms", "ok": False, "observed": 50.0, "limit": 1.0, **common},
        {"expr": "p50(latency) < 1s", "ok": True, "observed": 40.0, "limit": 1000.0, **common},
    ]
    data["thresholds"][1].update(margin=960.0, margin_relative=0.96)
    data["goodput"] = {"objectives": ["p99(latency) < 1ms"], "per_s": 0.0, "good": 0}
    (path / "summary.json").write_text(json.dumps(data))
    text = render_run_html(path)
    start = text.index("<h2>Thresholds</h2>")
    section = text[start : text.index("<h2>", start + 1)]
    cells = [re.sub("<[^>]+>", "", row) for row in section.split("</tr>")]
    assert cells[1] == "p99(latency) &lt; 1ms50.0ms1.0ms-FAIL"  # in the threshold's unit
    assert cells[2] == "p50(latency) &lt; 1s40.0ms1.00s960ms (+96%)pass"  # no stray FAIL
    assert "goodput: 0.0/s (0 requests met every objective)" in section


def test_empty_run_still_renders(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run", n=0)
    out = write_run_html(path)
    assert out == path / HTML_FILE and "No ok requests." in out.read_text()


def test_per_second_percentiles_match_numpy() -> None:
    rng = np.random.default_rng(3)
    seconds = rng.integers(0, 5, size=2000).astype(np.float64)
    values = rng.random(2000)
    p50, p99 = per_second_percentiles(seconds, values, 6, (50, 99))
    for s in range(5):
        chunk = values[seconds == s]
        assert p99[s] == np.percentile(chunk, 99, method="inverted_cdf")
        assert p50[s] == np.percentile(chunk, 50, method="inverted_cdf")
    assert np.isnan(p50[5])


def test_in_flight_and_counts_per_second() -> None:
    builder = SeriesBuilder()
    for i in range(4):  # each in flight from i s to i + 1.5 s
        builder.add(
            RequestRecord(
                seq=i,
                worker=0,
                action="a",
                intended_at=i * 10**9,
                sent_at=i * 10**9,
                done_at=i * 10**9 + 1_500 * MS,
                outcome=Outcome.OK,
            )
        )
    series = builder.build()
    assert series.sent == [1, 1, 1, 1, 0]
    assert series.in_flight == [1, 1, 1, 1, 0]  # at each second's end
    assert series.ok == [0, 1, 1, 1, 1]


def test_lttb_keeps_ends_and_peaks() -> None:
    x = np.arange(10_000, dtype=np.float64)
    y = np.zeros(10_000)
    y[4321] = 100.0
    keep = lttb_indices(x, y, 200)
    assert len(keep) <= 200 and keep[0] == 0 and keep[-1] == 9999 and 4321 in keep
    assert list(lttb_indices(x[:50], y[:50], 200)) == list(range(50))


def test_100k_records_render_fast(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run", n=100_000, evil=False)
    summary = summarize(RunDir(path).iter_records(), target_rate_per_s=100.0)
    (path / "summary.json").write_text(json.dumps(summary.to_dict()))  # as agentload run leaves it
    start = time.perf_counter()
    text = render_run_html(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed  # about 0.5 s here; generous for slow CI machines
    assert len(text) < 1_500_000
