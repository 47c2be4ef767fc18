"""The console every subcommand prints through."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def make_console() -> Console:
    from rich.console import Console  # loaded by the commands that print, when they print

    console = Console(highlight=False)
    if not console.is_terminal:
        return Console(highlight=False, width=120)  # logs and pipes: no 80-column wrapping
    return console
