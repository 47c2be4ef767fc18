"""Summaries of probe rounds: per measurement, n and percentiles; as JSON and as a table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentload.clients.probe import ProbeTarget, Round

MEASUREMENTS: tuple[tuple[str, str], ...] = (
    ("dns_ms", "DNS lookup"),
    ("connect_ms", "TCP connect"),
    ("tls_ms", "TLS handshake"),
    ("ttfb_new_ms", "first byte, new connection"),
    ("ttfb_reused_ms", "first byte, reused connection"),
    ("new_connection_ms", "new connection to first byte"),
    ("upload_mb_per_s", "upload throughput (MB/s)"),
)
PERCENTILES = (50.0, 90.0, 99.0)


def stats(values: Sequence[float]) -> dict[str, float | int] | None:
    """n, min, mean, p50, p90, p99, max (linear interpolation between order statistics)."""
    if not values:
        return None
    array = np.asarray(values, dtype=float)
    out: dict[str, float | int] = {"n": len(values), "min": float(array.min())}
    out["mean"] = float(array.mean())
    for p in PERCENTILES:
        out[f"p{p:g}"] = float(np.percentile(array, p))
    out["max"] = float(array.max())
    return out


def summarise(target: ProbeTarget, rounds: Sequence[Round], body_bytes: int) -> dict[str, Any]:
    measured = {
        key: stats([r.values[key] for r in rounds if key in r.values]) for key, _ in MEASUREMENTS
    }
    reused = [r.keep_alive for r in rounds if r.keep_alive is not None]
    errors = Counter(r.error for r in rounds if r.error is not None)
    statuses = Counter(str(r.status) for r in rounds if r.status is not None)
    uploads = Counter(str(r.upload_status) for r in rounds if r.upload_status is not None)
    new_p50 = _p50(measured["new_connection_ms"])
    reused_p50 = _p50(measured["ttfb_reused_ms"])
    return {
        "url": target.url,
        "rounds": len(rounds),
        "body_bytes": body_bytes,
        "status_codes": dict(statuses),
        "upload_status_codes": dict(uploads),
        "keep_alive_rounds": sum(reused),
        "errors": dict(errors),
        "measurements": {k: v for k, v in measured.items() if v is not None},
        # What keep-alive saves per request: new connection to first byte minus reused TTFB.
        "keep_alive_saving_ms": None
        if new_p50 is None or reused_p50 is None
        else new_p50 - reused_p50,
    }


def _p50(stat: dict[str, float | int] | None) -> float | None:
    return None if stat is None else float(stat["p50"])


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"probe {summary['url']}: {summary['rounds']} rounds, "
        f"statuses {summary['status_codes'] or '-'}, "
        f"keep-alive in {summary['keep_alive_rounds']}",
        f"{'measurement':<32}{'n':>5}{'p50':>11}{'p90':>11}{'p99':>11}{'max':>11}",
    ]
    for key, label in MEASUREMENTS:
        stat = summary["measurements"].get(key)
        if stat is None:
            continue
        cells = "".join(f"{stat[c]:>11.3f}" for c in ("p50", "p90", "p99", "max"))
        lines.append(f"{label:<32}{stat['n']:>5}{cells}")
    if summary["upload_status_codes"]:
        lines.append(f"upload answered {summary['upload_status_codes']}")
    saving = summary["keep_alive_saving_ms"]
    if saving is not None:
        lines.append(f"keep-alive saves {saving:.3f} ms per request at p50")
    for error, count in summary["errors"].items():
        lines.append(f"error ({count}x): {error}")
    return "\n".join(lines)
