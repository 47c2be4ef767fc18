"""Live progress: a rich display on a terminal, a plain line every 10 s otherwise; both show
the thresholds' state so far. Also the ``--metrics-port`` server's lifetime."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from agentload.api import Progress, ProgressSnapshot
from agentload.config import Scenario
from agentload.slo.evaluate import Verdict

if TYPE_CHECKING:  # rich, the terminal views and prometheus-client load only when used
    from rich.console import Console, RenderableType

    from agentload.engine.live_metrics import LiveMetrics

_PLAIN_EVERY_S = 10.0
_MAX_LISTED = 3  # failing thresholds named on the live line; the rest are counted

METRICS_PORT_OPTION: str | None = typer.Option(
    None,
    "--metrics-port",
    metavar="[HOST:]PORT",
    help="Serve live Prometheus metrics on http://HOST:PORT/metrics during the run (host "
    "127.0.0.1 unless given; 0.0.0.0:PORT for a remote Prometheus; an IPv6 host in brackets: "
    "[::1]:PORT). Port 0 picks a free one.",
)


def thresholds_state(verdicts: Sequence[Verdict]) -> tuple[str, str] | None:
    """("thresholds so far: 3 pass, 1 FAIL: p99<300", style), or None without thresholds."""
    if not verdicts:
        return None
    failed = [v.expr for v in verdicts if v.ok is False]
    passed = sum(1 for v in verdicts if v.ok is True)
    waiting = len(verdicts) - passed - len(failed)
    parts = [f"{passed} pass"]
    if failed:
        named = ", ".join(failed[:_MAX_LISTED])
        more = f" and {len(failed) - _MAX_LISTED} more" if len(failed) > _MAX_LISTED else ""
        parts.append(f"{len(failed)} FAIL: {named}{more}")
    if waiting:
        parts.append(f"{waiting} no data yet")
    return "thresholds so far: " + "; ".join(parts), "red" if failed else "green"


class RichProgress:
    def __init__(self, console: Console) -> None:
        from rich.live import Live

        from agentload.report import terminal  # noqa: F401  (loaded now, not mid-run)

        self._live = Live(console=console, refresh_per_second=4, transient=True)
        self._live.start()

    def update(self, snapshot: ProgressSnapshot) -> None:
        self._live.update(_render(snapshot))

    def close(self) -> None:
        if self._live.is_started:
            self._live.stop()


class PlainProgress:
    def __init__(self) -> None:
        from agentload.report import terminal  # noqa: F401  (loaded now, not mid-run)

        self._next_s = time.monotonic() + _PLAIN_EVERY_S

    def update(self, snapshot: ProgressSnapshot) -> None:
        now = time.monotonic()
        if now >= self._next_s:
            self._next_s = now + _PLAIN_EVERY_S
            from agentload.report.terminal import live_line

            line = live_line(
                snapshot.window,
                elapsed_s=snapshot.elapsed_s,
                remaining_s=snapshot.remaining_s,
                in_flight=snapshot.in_flight,
                totals=snapshot.totals,
            )
            state = thresholds_state(snapshot.thresholds)
            print(line if state is None else f"{line} | {state[0]}", flush=True)

    def close(self) -> None:
        pass


def _render(snapshot: ProgressSnapshot) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from agentload.report.terminal import render_live

    view = render_live(
        snapshot.window,
        elapsed_s=snapshot.elapsed_s,
        remaining_s=snapshot.remaining_s,
        in_flight=snapshot.in_flight,
        totals=snapshot.totals,
        issued=snapshot.issued,
    )
    state = thresholds_state(snapshot.thresholds)
    return view if state is None else Group(view, Text(state[0], style=state[1]))


def make_progress(*, quiet: bool, console: Console) -> Progress | None:
    if quiet:
        return None
    if console.is_terminal and sys.stdout.isatty():
        return RichProgress(console)
    return PlainProgress()


@contextmanager
def serve_live_metrics(spec: str | None, scenario: Scenario) -> Iterator[LiveMetrics | None]:
    """The Prometheus endpoint for the run's lifetime (nothing when ``spec`` is None)."""
    if spec is None:
        yield None
        return
    from agentload.engine.live_metrics import Endpoint, LiveMetrics

    endpoint = Endpoint.parse(spec)
    metrics = LiveMetrics(name=scenario.name, protocol=scenario.target.protocol)
    port = metrics.serve(endpoint)
    print(f"live metrics: {endpoint.url(port)}", file=sys.stderr, flush=True)
    try:
        yield metrics
    finally:
        metrics.close()
