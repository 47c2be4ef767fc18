"""Write summary.json atomically: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from agentload.analysis.summary import Summary


def write_summary_json(summary: Summary, path: str | os.PathLike[str]) -> Path:
    """Write ``summary.to_dict()`` to ``path`` (temp file in the same folder, fsync, replace).

    Strict JSON: a NaN or infinity would be a bug upstream, so it raises instead of writing.
    """
    target = Path(path)
    text = json.dumps(summary.to_dict(), indent=2, allow_nan=False) + "\n"
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target
