"""The "agentload against its peers" table of ``make bench``: the medians of ``client_overhead``
(plain requests, closed model) and ``streaming`` (SSE chunks) side by side, each peer's CPU
divided by agentload's, from the JSON files those two benchmarks wrote in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchlib import table

PLAIN = ("wrk", "locust", "aiohttp", "agentload-aiohttp")
STREAM = ("locust", "aiperf", "guidellm", "aiohttp", "agentload-aiohttp")


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def _ratio(peer: float | None, ours: float | None) -> str:
    return f"{peer / ours:.2f}" if peer and ours else "—"


def plain_rows(data: dict[str, Any]) -> list[list[str]]:
    closed = {m["client"]: m for m in data["medians"] if m["mode"] == "closed"}
    ours = closed.get("agentload", {}).get("cpu_us_per_request")
    rows = []
    for name in ("agentload", *PLAIN):
        m = closed.get(name)
        if m is None:
            why = data["clients"].get(name, {}).get("skipped")
            rows.append([name, "—", "—", "—", f"skipped: {why}" if why else "not measured"])
            continue
        cpu = m["cpu_us_per_request"]
        rows.append(
            [
                name,
                f"{cpu:.1f}",
                _ratio(cpu, ours),
                f"{m['achieved_per_s']:,.0f}",
                f"{m['client_util']:.0%}",
            ]
        )
    return rows


def stream_rows(data: dict[str, Any]) -> list[list[str]]:
    results = data["results"]
    ours = results.get("agentload", {}).get("cpu_us")
    rows = []
    for name in ("agentload", *STREAM):
        r = results.get(name)
        if r is None:
            rows.append([name, "—", "—", "—", "see the streaming table"])
            continue
        rows.append(
            [name, f"{r['cpu_us']:.1f}", _ratio(r["cpu_us"], ours), f"{r['held']:,.0f}", ""]
        )
    return rows


def summary(results_dir: Path) -> str:
    """The section, or a line saying why it is missing."""
    plain = _load(results_dir / "client_overhead.json")
    stream = _load(results_dir / "streaming.json")
    out = ["### agentload against its peers", ""]
    out.append(
        "Medians of the runs below, measured side by side in this run (one client process, or "
        "process tree, pinned to one core). `÷ agentload` is the peer's CPU divided by "
        "agentload's: above 1, agentload spends less."
    )
    if plain is not None:
        load = plain.get("load", {})
        out += [
            "",
            f"Plain keep-alive GETs, closed model, {load.get('users', '?')} users "
            "(`client_overhead`):",
            "",
            table(
                ["client", "CPU µs/request", "÷ agentload", "achieved req/s", "client CPU"],
                plain_rows(plain),
            ),
        ]
    if stream is not None:
        out += [
            "",
            f"SSE streams (`streaming`; {stream['header'][1].split(';')[0]}):",
            "",
            table(
                ["client", "CPU µs/chunk", "÷ agentload", "streams in flight", "note"],
                stream_rows(stream),
            ),
        ]
    if plain is None and stream is None:
        out += ["", "Not available: neither benchmark wrote its results."]
    return "\n".join(out) + "\n"
