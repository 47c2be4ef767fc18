"""Disk size of the core install: agentload and its dependencies, no extras.

    .venv/bin/python bench/install_size.py [--json PATH] [--keep]

Builds a fresh virtual environment with this interpreter, installs the repository into it
as a user would (``pip install -c constraints.txt .``, no extras, so no torch and no CUDA
wheels), and measures its ``site-packages`` before and after (allocated blocks, as ``du``
counts them). The figure judged against the target (≤ 150 MB) is what the install added:
what a user's disk gains, whatever tooling (pip; setuptools on Python ≤ 3.11) the venv
came with. The largest packages are listed, so a reader sees what would have to go.

It needs the package index (or pip's cache) that ``make test`` uses; where pip cannot
install, it says so and exits 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchlib import ROOT, log, machine, now_iso, table, write_result

MB = 1024 * 1024


def disk_bytes(path: Path) -> int:
    """Allocated bytes under ``path`` (``du``'s measure), links not followed."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        total += os.lstat(folder).st_blocks * 512  # the directory's own blocks, as du counts
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                continue
    return total


def owner(entry: str) -> str:
    """The distribution a top-level site-packages entry belongs to, roughly: its name
    before any version or ``.libs`` suffix, lower-case, ``-`` and ``_`` alike."""
    base = entry.split("-")[0].removesuffix(".libs").removesuffix(".py")
    return base.lower().replace("-", "_")


def sizes(site_packages: Path) -> dict[str, int]:
    """Bytes per top-level entry of ``site_packages``."""
    out = {}
    for entry in os.listdir(site_packages):
        path = site_packages / entry
        out[entry] = disk_bytes(path) if path.is_dir() else os.lstat(path).st_blocks * 512
    return out


def measure(before: dict[str, int], after: dict[str, int]) -> dict[str, object]:
    by_package: dict[str, int] = {}
    for entry, size in after.items():
        added = size - before.get(entry, 0)
        if added > 0:
            by_package[owner(entry)] = by_package.get(owner(entry), 0) + added
    largest = sorted(by_package.items(), key=lambda item: -item[1])[:12]
    return {
        "venv_site_packages_mb": sum(before.values()) / MB,
        "added_mb": (sum(after.values()) - sum(before.values())) / MB,
        "largest_mb": {name: size / MB for name, size in largest},
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="disk size of the core install")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the virtual environment")
    args = parser.parse_args(argv)
    venv = Path(tempfile.mkdtemp(prefix="agentload-core-venv-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        before = sizes(Path(site))
        constraints = ROOT / "constraints.txt"
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        proc = subprocess.run(
            [*install, "-c", str(constraints), str(ROOT)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            tail = " / ".join(proc.stderr.strip().splitlines()[-2:])
            print(f"install_size: pip could not install the core: {tail}", file=sys.stderr)
            return 1
        result = measure(before, sizes(Path(site)))
    finally:
        if args.keep:
            log(f"virtual environment kept in {venv}")
        else:
            shutil.rmtree(venv, ignore_errors=True)
    header = [
        f"core install size — {now_iso()} — {machine()}",
        "a fresh venv, `pip install -c constraints.txt .` (no extras); site-packages as du "
        "counts it, before and after",
    ]
    rows = [
        ["added by the install (judged: ≤ 150 MB)", f"{result['added_mb']:.1f}"],
        ["the fresh venv's own (pip, setuptools)", f"{result['venv_site_packages_mb']:.1f}"],
    ]
    largest = result["largest_mb"]
    assert isinstance(largest, dict)
    parts = ", ".join(f"{name} {size:.1f}" for name, size in largest.items())
    text = table(["measure", "MB"], rows) + f"\n\nLargest (MB): {parts}"
    print("\n".join(header) + "\n\n" + text)
    write_result(args.json, "install_size", {"header": header, "table": text, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
