"""``agentload probe URL``: DNS, connect, TLS, first byte, keep-alive and upload throughput."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from agentload.errors import UsageError
from agentload.units import parse_duration_s

HELP = (
    "Measure the network path to URL, one fresh connection per round: DNS lookup, TCP "
    "connect, TLS handshake (https), time to first byte of a GET on the new connection and "
    "again on the same connection (keep-alive reuse), and the throughput of a POST with a "
    "large body. Rounds run one after another; the table gives p50/p90/p99 of each. Each "
    "round sends 3 requests (2 without --body-bytes). --out writes the JSON to a file, or "
    "probe.json inside a run directory. Exit codes: 0 at least one round completed; 1 every "
    "round failed; 2 bad options."
)


def probe_command(
    url: str = typer.Argument(..., help="http(s)://host[:port][/path] to probe."),
    repeat: int = typer.Option(20, "--repeat", "-n", help="Rounds (1-10000)."),
    body_bytes: int = typer.Option(
        4 * 1024 * 1024, "--body-bytes", help="Upload size for the throughput step; 0 skips it."
    ),
    timeout: str = typer.Option("10s", "--timeout", help="Limit for each step of a round."),
    pause: str = typer.Option("0s", "--pause", help="Wait between rounds, e.g. 100ms."),
    insecure: bool = typer.Option(False, "--insecure", help="https: skip certificate checks."),
    upload_path: str | None = typer.Option(
        None,
        "--upload-path",
        help="Path for the upload step (default: URL's path); it should read the whole body "
        "before answering, as a JSON endpoint does.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    out: Path | None = typer.Option(
        None, "--out", metavar="PATH", help="Also write the JSON: a file, or a run directory."
    ),
) -> None:
    from agentload.api import event_loop_factory
    from agentload.clients.probe import ProbeTarget, run_probe
    from agentload.clients.probe_summary import format_table, summarise

    try:
        target = ProbeTarget.parse(url, insecure=insecure, upload_path=upload_path)
    except ValueError as exc:
        raise UsageError(f"probe URL: {exc}") from None
    if not 1 <= repeat <= 10_000:
        raise UsageError(f"--repeat {repeat}: give 1 to 10000 rounds")
    if not 0 <= body_bytes <= 1024**3:
        raise UsageError(f"--body-bytes {body_bytes}: give 0 (skip) to 1073741824 (1 GiB)")
    timeout_s, pause_s = _duration("--timeout", timeout), _duration("--pause", pause)
    if timeout_s <= 0:
        raise UsageError(f"--timeout {timeout}: must be more than 0")
    destination = None if out is None else (out / "probe.json" if out.is_dir() else out)
    if destination is not None and not destination.parent.is_dir():
        raise UsageError(f"--out {out}: the folder {destination.parent} does not exist")
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        rounds = runner.run(
            run_probe(
                target, repeat=repeat, body_bytes=body_bytes, timeout_s=timeout_s, pause_s=pause_s
            )
        )
    summary = summarise(target, rounds, body_bytes)
    text = json.dumps(summary, indent=2)
    if destination is not None:
        destination.write_text(text + "\n", encoding="utf-8")
    print(text if as_json else format_table(summary))
    if all(r.error is not None and not r.values.get("ttfb_new_ms") for r in rounds):
        print("error: every round failed", file=sys.stderr)
        raise typer.Exit(1)


def _duration(option: str, value: str) -> float:
    try:
        seconds = parse_duration_s(value)
    except ValueError as exc:
        raise UsageError(f"{option} {value}: {exc}") from None
    if seconds < 0:
        raise UsageError(f"{option} {value}: must not be negative")
    return seconds
