"""Live progress: a rich display on a terminal, a plain line every 10 s otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console, RenderableType
from rich.live import Live

from agentload.api import Progress, ProgressSnapshot
from agentload.report.terminal import live_line, render_live

_PLAIN_EVERY_S = 10.0


class RichProgress:
    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=4, transient=True)
        self._live.start()

    def update(self, snapshot: ProgressSnapshot) -> None:
        self._live.update(_render(snapshot))

    def close(self) -> None:
        if self._live.is_started:
            self._live.stop()


class PlainProgress:
    def __init__(self) -> None:
        self._next_s = time.monotonic() + _PLAIN_EVERY_S

    def update(self, snapshot: ProgressSnapshot) -> None:
        now = time.monotonic()
        if now >= self._next_s:
            self._next_s = now + _PLAIN_EVERY_S
            print(
                live_line(
                    snapshot.window,
                    elapsed_s=snapshot.elapsed_s,
                    remaining_s=snapshot.remaining_s,
                    in_flight=snapshot.in_flight,
                    totals=snapshot.totals,
                ),
                flush=True,
            )

    def close(self) -> None:
        pass


def _render(snapshot: ProgressSnapshot) -> RenderableType:
    return render_live(
        snapshot.window,
        elapsed_s=snapshot.elapsed_s,
        remaining_s=snapshot.remaining_s,
        in_flight=snapshot.in_flight,
        totals=snapshot.totals,
        issued=snapshot.issued,
    )


def make_progress(*, quiet: bool, console: Console) -> Progress | None:
    if quiet:
        return None
    if console.is_terminal and sys.stdout.isatty():
        return RichProgress(console)
    return PlainProgress()
