"""The load generator's performance targets, each with this run's figure and whether it is met.

    .venv/bin/python bench/targets.py RESULTS_DIR

``make bench`` puts this table first in ``docs/performance.md``, from the JSON files the
benchmarks of the same run wrote into ``RESULTS_DIR`` (``bench/run_all.py`` prints where);
run alone, it prints the table for a results directory kept from an earlier run. A target
whose benchmark did not run (or ran without the peer it is measured against) says so
instead of a verdict. What bounds each target that is not met is written up in
``docs/performance.md`` (profiles, not guesses); the figures themselves come from the
benchmarks' own tables, which follow this one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import median, table

MET, NOT_MET, UNKNOWN = "met", "**not met**", "not measured"


@dataclass(frozen=True)
class Row:
    target: str
    measured: str
    verdict: str


def _load(results_dir: Path, name: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((results_dir / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def _verdict(ok: bool) -> str:
    return MET if ok else NOT_MET


def _partial(parts: dict[str, bool]) -> str:
    """Met when every part is; otherwise which parts are not."""
    missed = [name for name, ok in parts.items() if not ok]
    return MET if not missed else f"{NOT_MET} ({', '.join(missed)})"


def _missing(target: str, why: str) -> Row:
    return Row(target, why, UNKNOWN)


def plain_rows(data: dict[str, Any] | None) -> list[Row]:
    names = (
        "≤ 15 µs client CPU per plain request",
        "≥ 4.7× less CPU per request than Locust FastHttpUser",
        "within 2.5× of wrk's CPU per request",
    )
    if data is None:
        return [_missing(name, "client_overhead did not run") for name in names]
    closed = {
        m["client"]: m["cpu_us_per_request"] for m in data["medians"] if m["mode"] == "closed"
    }
    ours = closed.get("agentload")
    if ours is None:
        return [_missing(name, "no agentload figure") for name in names]
    rows = [Row(names[0], f"{ours:.1f} µs", _verdict(ours <= 15.0))]
    for name, peer in ((names[1], "locust"), (names[2], "wrk")):
        theirs = closed.get(peer)
        if theirs is None:
            why = data.get("clients", {}).get(peer, {}).get("skipped") or "not run"
            rows.append(_missing(name, f"{peer}: {why}"))
        elif peer == "locust":
            ratio = theirs / ours
            rows.append(Row(name, f"Locust {theirs:.1f} µs = {ratio:.2f}× agentload's",
                            _verdict(ratio >= 4.7)))  # fmt: skip
        else:
            ratio = ours / theirs
            rows.append(Row(name, f"wrk {theirs:.1f} µs; agentload's = {ratio:.2f}× wrk's",
                            _verdict(ratio <= 2.5)))  # fmt: skip
    return rows


def stream_rows(data: dict[str, Any] | None) -> list[Row]:
    name = "≤ 10 µs client CPU per streamed SSE chunk"
    ours = None if data is None else data.get("results", {}).get("agentload")
    if ours is None:
        return [_missing(name, "streaming did not run")]
    return [Row(name, f"{ours['cpu_us']:.1f} µs", _verdict(ours["cpu_us"] <= 10.0))]


def memory_rows(data: dict[str, Any] | None) -> list[Row]:
    streams_name = "≥ 10,000 streams in flight at ≤ 15 KB each"
    baseline_name = "baseline resident memory ≤ 60 MB"
    if data is None:
        return [_missing(n, "memory_per_stream did not run") for n in (streams_name, baseline_name)]
    rows = []
    per_stream = {int(k): v for k, v in data.get("kb_per_stream", {}).items()}
    held = {int(k): v for k, v in data.get("held_in_flight", {}).items()}
    at_10k = [n for n in per_stream if n >= 10_000]
    if at_10k:
        n = max(at_10k)
        kb, in_flight = per_stream[n], held.get(n)
        held_ok = in_flight is None or in_flight >= 10_000
        held_text = "" if in_flight is None else f", {in_flight:,.0f} held"
        rows.append(Row(streams_name, f"{n:,} streams: {kb:.1f} KB each{held_text}",
                        _verdict(kb <= 15.0 and held_ok)))  # fmt: skip
    else:
        rows.append(_missing(streams_name, "no run with 10,000 streams"))
    # Judged while the run sends (its own samples, one stream in flight); the process's peak
    # also holds the end-of-run summary and report, shown beside it.
    mb, peak_mb = data.get("baseline_load_phase_mb"), data.get("baseline_mb")
    if mb is None:
        rows.append(_missing(baseline_name, "no baseline run"))
    else:
        peak = "" if peak_mb is None else f" (peak {peak_mb:.1f} MB with the end-of-run report)"
        rows.append(Row(baseline_name, f"{mb:.1f} MB while sending{peak}", _verdict(mb <= 60.0)))
    return rows


def _medians(runs: Sequence[dict[str, float]], keys: Sequence[str]) -> dict[str, float]:
    return {key: median([run[key] for run in runs]) for key in keys}


def schedule_rows(data: dict[str, Any] | None) -> list[Row]:
    specs = (
        ("poisson 5000/s plain", "Poisson 5,000/s: rate within 1%, p99 lag ≤ 1 ms", 1.0, 1.0),
        ("constant 200/s 1-s streams", "200/s of 1-s streams: rate within 0.5%, p99 lag ≤ 2 ms",
         0.5, 2.0),
    )  # fmt: skip
    results = {} if data is None else data.get("results", {})
    rows = []
    for key, name, rate_pct, lag_ms in specs:
        runs = results.get(key)
        if not runs:
            rows.append(_missing(name, "schedule_accuracy did not run this load"))
            continue
        m = _medians(runs, ("target", "achieved", "lag_p99"))
        off_pct = (m["achieved"] / m["target"] - 1) * 100
        verdict = _partial({"rate": abs(off_pct) <= rate_pct, "lag": m["lag_p99"] <= lag_ms})
        rows.append(Row(name, f"{off_pct:+.2f}% of target; p99 lag {m['lag_p99']:.2f} ms", verdict))
    return rows


def ttft_rows(data: dict[str, Any] | None) -> list[Row]:
    """Per rate: the medians against the target, and whether the run's self-check flagged
    (saturated, its timestamp-precision warning, or untrustworthy) every run whose own p99
    was over 3 ms."""
    name = "TTFT within 1 ms of truth at p50, 3 ms at p99; runs over it flagged"
    results = {} if data is None else data.get("results", {})
    if not results:
        return [_missing(name, "ttft_accuracy did not run")]
    rows = []
    for rate, runs in results.items():
        m = _medians(runs, ("p50", "p99"))
        flagged = [
            bool(run.get("saturated") or run.get("imprecise") or run.get("untrusted"))
            for run in runs
        ]
        over = [run["p99"] > 3.0 for run in runs]
        missed = sum(o and not f for o, f in zip(over, flagged, strict=True))
        text = (f"p50 {m['p50']:.2f} ms, p99 {m['p99']:.2f} ms; {sum(over)} of {len(runs)} "
                f"runs over 3 ms, {sum(flagged)} flagged")  # fmt: skip
        parts = {"p50": m["p50"] <= 1.0, "p99": m["p99"] <= 3.0, "self-check": missed == 0}
        rows.append(Row(f"{name}, {rate}", text, _partial(parts)))
    return rows


def install_rows(data: dict[str, Any] | None) -> list[Row]:
    name = "core install (no torch, no CUDA wheels) ≤ 150 MB"
    if data is None:
        return [_missing(name, "install_size did not run")]
    added = data["added_mb"]
    return [Row(name, f"{added:.1f} MB added to a fresh venv", _verdict(added <= 150.0))]


SECTIONS: tuple[tuple[str, Callable[[dict[str, Any] | None], list[Row]]], ...] = (
    ("client_overhead", plain_rows),
    ("streaming", stream_rows),
    ("memory_per_stream", memory_rows),
    ("schedule_accuracy", schedule_rows),
    ("ttft_accuracy", ttft_rows),
    ("install_size", install_rows),
)


def rows(results_dir: Path) -> list[Row]:
    return [row for bench, build in SECTIONS for row in build(_load(results_dir, bench))]


def targets(results_dir: Path) -> str:
    """The Markdown section: the table, and how many targets this run met."""
    all_rows = rows(results_dir)
    judged = [r for r in all_rows if r.verdict != UNKNOWN]
    met = sum(1 for r in judged if r.verdict == MET)
    return "\n".join(
        [
            "### Targets",
            "",
            f"This run met {met} of the {len(judged)} targets it measured (medians of its runs; "
            "one client process on one core). What bounds each target not met, from profiles, "
            'is in "What bounds the targets not met".',
            "",
            table(
                ["target", "this run", "verdict"],
                [[r.target, r.measured, r.verdict] for r in all_rows],
            ),
            "",
        ]
    )


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(
            "usage: bench/targets.py RESULTS_DIR (the directory make bench printed)",
            file=sys.stderr,
        )
        return 2
    print(targets(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
