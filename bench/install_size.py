"""Disk size of the core install: agentload and its dependencies, no extras.

    .venv/bin/python bench/install_size.py [--json PATH] [--keep]

Builds a fresh virtual environment with this interpreter, installs the repository into it
as a user would (``pip install -c constraints.txt .``, no extras, so no torch and no CUDA
wheels), and sums the disk usage of its ``site-packages`` (allocated blocks, as ``du``
counts them). Two figures: ``core`` leaves out the installer's own tooling (pip, and
setuptools and pbr, which hdrhistogram declares as dependencies but never imports); ``as
installed`` counts everything but pip. The target (≤ 150 MB) is judged on ``as
installed``: it is what a user's disk holds. The largest packages are listed, so a reader
sees what would have to go.

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
TOOLING = ("pip",)  # the installer: never counted
DECLARED_NOT_USED = ("setuptools", "pbr", "_distutils_hack")  # hdrhistogram's build deps


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


def measure(site_packages: Path) -> dict[str, object]:
    by_package: dict[str, int] = {}
    for entry in os.listdir(site_packages):
        path = site_packages / entry
        size = disk_bytes(path) if path.is_dir() else os.lstat(path).st_blocks * 512
        by_package[owner(entry)] = by_package.get(owner(entry), 0) + size
    tooling = sum(by_package.get(name, 0) for name in TOOLING)
    unused = sum(by_package.get(name, 0) for name in DECLARED_NOT_USED)
    total = sum(by_package.values())
    largest = sorted(
        ((name, size) for name, size in by_package.items() if name not in TOOLING),
        key=lambda item: -item[1],
    )[:12]
    return {
        "site_packages_mb": total / MB,
        "as_installed_mb": (total - tooling) / MB,
        "core_mb": (total - tooling - unused) / MB,
        "declared_not_used_mb": unused / MB,
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
        constraints = ROOT / "constraints.txt"
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        proc = subprocess.run(
            [*install, "-c", str(constraints), str(ROOT)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            tail = " / ".join(proc.stderr.strip().splitlines()[-2:])
            print(f"install_size: pip could not install the core: {tail}", file=sys.stderr)
            return 1
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        result = measure(Path(site))
    finally:
        if args.keep:
            log(f"virtual environment kept in {venv}")
        else:
            shutil.rmtree(venv, ignore_errors=True)
    header = [
        f"core install size — {now_iso()} — {machine()}",
        "a fresh venv, `pip install -c constraints.txt .` (no extras); disk usage as du counts "
        "it; pip itself left out",
    ]
    rows = [
        ["as installed (judged: ≤ 150 MB)", f"{result['as_installed_mb']:.1f}"],
        ["core, without setuptools/pbr (declared by hdrhistogram, never imported)",
         f"{result['core_mb']:.1f}"],
    ]  # fmt: skip
    largest = result["largest_mb"]
    assert isinstance(largest, dict)
    parts = ", ".join(f"{name} {size:.1f}" for name, size in largest.items())
    text = table(["measure", "MB"], rows) + f"\n\nLargest (MB): {parts}"
    print("\n".join(header) + "\n\n" + text)
    write_result(args.json, "install_size", {"header": header, "table": text, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
