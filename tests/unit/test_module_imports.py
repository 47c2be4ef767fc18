"""Every module imports on its own: an import cycle that only bites when a module is the
first one imported (a user's `import agentload.engine.adaptive`) fails here."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import importlib, pkgutil, sys
import agentload
names = sorted(
    m.name
    for m in pkgutil.walk_packages(agentload.__path__, "agentload.")
    if not m.name.endswith("__main__")  # running it is the CLI itself
)
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m == "agentload" or m.startswith("agentload.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:  # report every module, not only the first
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    count, *failures = proc.stdout.strip().splitlines()
    assert int(count) > 150
    assert not failures, "\n".join(failures)
