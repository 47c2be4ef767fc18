"""Optional JSON files beside a run's records (probe.json, adaptive.json): a report shows
what they hold, and says so when one is damaged rather than failing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def load_run_json(
    path: Path, valid: Callable[[dict[str, Any]], bool], expected: str
) -> dict[str, Any] | None:
    """The JSON object at ``path``; None when there is none. One that cannot be read, or that
    ``valid`` rejects, gives ``{"unreadable": reason}`` (``expected`` names what it should
    have been, e.g. "a probe summary written by agentload probe")."""
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"unreadable": f"{path}: {exc}"}
    if not isinstance(doc, dict) or not valid(doc):
        return {"unreadable": f"{path}: not {expected}"}
    return doc
