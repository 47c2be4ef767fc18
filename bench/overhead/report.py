"""The results: medians with ratios to plain aiohttp, fixed costs, every run, and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .clients import MODES, Load
from .measure import ClientResult
from .tables import fmt_num, fmt_pct, median, table

BASELINE = "aiohttp"


@dataclass
class MedianRow:
    """The medians of one client in one mode (ratios are ratios of the medians)."""

    client: str
    mode: str
    ok_requests: float | None
    errors: int  # summed over the runs
    achieved_per_s: float | None
    cpu_us_per_request: float | None
    client_util: float | None
    server_util: float | None
    # What one free core could sustain at this cost: less sensitive to a noisy machine than
    # the achieved rate, which also depends on how much of the core the client got.
    per_core_per_s: float | None = None
    rate_ratio: float | None = None
    cpu_ratio: float | None = None


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def medians(results: dict[str, ClientResult]) -> list[MedianRow]:
    rows: list[MedianRow] = []
    for result in results.values():
        for mode in MODES:
            samples = [s for s in result.samples if s.mode == mode]
            if not samples:
                continue
            per_req = [s.cpu_us_per_request for s in samples]
            cpu_us = median([v for v in per_req if v is not None])
            row = MedianRow(
                client=result.name,
                mode=mode,
                ok_requests=median([s.ok for s in samples]),
                errors=sum(s.requests - s.ok for s in samples),
                achieved_per_s=median([s.achieved_per_s for s in samples]),
                cpu_us_per_request=cpu_us,
                client_util=median([s.client_util for s in samples]),
                server_util=median([s.server_util for s in samples if s.server_util is not None]),
                per_core_per_s=1e6 / cpu_us if cpu_us else None,
            )
            rows.append(row)
    base = {row.mode: row for row in rows if row.client == BASELINE}
    for row in rows:
        if row.mode in base:
            row.rate_ratio = _ratio(row.achieved_per_s, base[row.mode].achieved_per_s)
            row.cpu_ratio = _ratio(row.cpu_us_per_request, base[row.mode].cpu_us_per_request)
    return rows


def peer_ratios(rows: list[MedianRow]) -> list[str]:
    """agentload against each other client, mode by mode: the ratios of the medians."""
    ours = {r.mode: r for r in rows if r.client == "agentload"}
    lines = []
    for row in rows:
        mine = ours.get(row.mode)
        if row.client == "agentload" or mine is None or not mine.cpu_us_per_request:
            continue
        if row.cpu_us_per_request is None:
            continue
        ratio = row.cpu_us_per_request / mine.cpu_us_per_request
        lines.append(
            f"  {row.mode}: agentload {mine.cpu_us_per_request:.1f} µs/request vs {row.client} "
            f"{row.cpu_us_per_request:.1f} µs: {row.client} ÷ agentload = {ratio:.2f} "
            f"({'agentload cheaper' if ratio > 1 else 'agentload costlier'})"
        )
    return ["", "CPU per request, agentload against each client:", *lines] if lines else []


def render(results: dict[str, ClientResult], rows: list[MedianRow], runs: int) -> str:
    """The medians table, the fixed costs, and every run's values."""
    median_rows = [
        ["client", "mode", "ok requests", "achieved req/s", "CPU µs/request",
         "req/s ÷ aiohttp", "CPU ÷ aiohttp", "1e6/CPU µs", "client CPU", "server CPU"],
    ]  # fmt: skip
    for row in rows:
        errors = f" ({row.errors} err)" if row.errors else ""
        median_rows.append(
            [
                row.client,
                row.mode,
                fmt_num(row.ok_requests, ".0f") + errors,
                fmt_num(row.achieved_per_s, ",.0f"),
                fmt_num(row.cpu_us_per_request, ".1f"),
                fmt_num(row.rate_ratio, ".2f"),
                fmt_num(row.cpu_ratio, ".2f"),
                fmt_num(row.per_core_per_s, ",.0f"),
                fmt_pct(row.client_util),
                fmt_pct(row.server_util),
            ]
        )
    out = [
        f"Medians of {runs} runs (ratios are ratios of the medians; 1e6/CPU µs = requests one "
        "free core could sustain at that cost; client/server CPU = CPU time / wall time):",
        table(median_rows, set(range(2, len(median_rows[0])))),
    ]
    out += [f"{r.name}: skipped ({r.skipped})" for r in results.values() if r.skipped]
    out += peer_ratios(rows)

    fixed_rows = [["client", "start-up only (not subtracted)", "1-request run (subtracted)"]]
    fixed_rows += [
        [
            r.name,
            f"{fmt_num(median(r.startup_cpu_s), '.3f')} s",
            f"{fmt_num(median(r.fixed_cpu_s), '.3f')} s",
        ]
        for r in results.values()
        if not r.skipped
    ]
    out += ["", "Fixed CPU cost per process (median):", table(fixed_rows, {1, 2})]
    out += [
        "  agentload start-up only = `agentload validate SCENARIO`; 1-request run = "
        "`agentload run` of a 1-user, 1-request scenario (start-up, imports, run dir, summary).",
        '  aiohttp start-up only = `python -c "import aiohttp, uvloop"`; 1-request run = '
        "the worker with --max-requests 1.",
    ]

    run_rows = [
        ["client", "mode", "run", "ok", "errors", "req/s", "CPU s", "user s", "sys s", "wall s",
         "CPU µs/req", "client CPU", "server CPU"],
    ]  # fmt: skip
    for result in results.values():
        run_rows += [
            [
                s.client, s.mode, str(s.run), str(s.ok), str(s.requests - s.ok),
                f"{s.achieved_per_s:,.0f}", f"{s.cpu_s:.2f}", f"{s.user_s:.2f}",
                f"{s.sys_s:.2f}", f"{s.wall_s:.2f}",
                fmt_num(s.cpu_us_per_request, ".1f"), fmt_pct(s.client_util),
                fmt_pct(s.server_util),
            ]
            for s in result.samples
        ]  # fmt: skip
    out += ["", "Every run:", table(run_rows, set(range(2, len(run_rows[0]))))]
    for result in results.values():
        if result.fixed_cpu_s:
            fixed_text = ", ".join(f"{v:.3f}" for v in result.fixed_cpu_s)
            startup_text = ", ".join(f"{v:.3f}" for v in result.startup_cpu_s)
            out.append(
                f"{result.name}: 1-request run CPU s [{fixed_text}]; start-up only [{startup_text}]"
            )
    return "\n".join(out)


def write_json(
    path: Path,
    header: list[str],
    load: Load,
    runs: int,
    pin_note: str,
    rows: list[MedianRow],
    results: dict[str, ClientResult],
) -> None:
    """Every measurement, for later analysis."""
    clients = {
        name: {
            "skipped": r.skipped,
            "startup_cpu_s": r.startup_cpu_s,
            "fixed_cpu_s": r.fixed_cpu_s,
            "samples": [asdict(s) for s in r.samples],
        }
        for name, r in results.items()
    }
    document = {
        "header": header,
        "load": asdict(load),
        "runs": runs,
        "pinning": pin_note,
        "medians": [asdict(row) for row in rows],
        "clients": clients,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
