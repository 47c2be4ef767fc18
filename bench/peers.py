"""The peer load generators the benchmarks compare against, installed apart from agentload.

    python bench/peers.py [--retry] [locust aiperf guidellm wrk]

Python peers (Locust, AIPerf, GuideLLM) each get their own virtual environment under
``bench/.peers/<name>/`` (git-ignored; their dependencies conflict with each other and must
never touch the project's ``.venv``), installed with plain ``pip install <name>`` from the
configured index. Before installing, ``pip install --dry-run --report`` lists the exact files
pip would fetch and their sizes are summed (an HTTP HEAD per file, or the size of a file in a
local mirror): a peer whose download would exceed ``MAX_DOWNLOAD_MB`` (GuideLLM pulls torch
and the CUDA wheels, ~3 GB) is skipped with that figure (``--allow-large`` installs it
anyway). wrk comes from the OS packages (``apt-get install wrk``). Every step has a time
limit; a peer that cannot be installed is skipped with the reason, never an error.

Results are cached: an installed venv (``.ok`` stamp) is reused, and a skip is remembered in
``bench/.peers/<name>.skip`` until ``--retry``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
PY_PEERS = ("locust", "aiperf", "guidellm")
ALL = (*PY_PEERS, "wrk")
MAX_DOWNLOAD_MB = 1500
INSTALL_LIMIT_S = 300
# The system Python that makes the peer venvs (the project's venv Python would also work, but
# a venv made from it would inherit nothing anyway; any 3.10+ interpreter does).
BASE_PYTHON = shutil.which("python3") or sys.executable


@dataclass(frozen=True)
class Peer:
    name: str
    exe: str | None  # the peer's executable (wrk) or its venv's python; None when skipped
    note: str  # version when installed, the reason when skipped

    @property
    def ok(self) -> bool:
        return self.exe is not None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(cmd: list[str], limit_s: float) -> tuple[int, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return 124, f"ran past {limit_s:.0f} s"
    except OSError as exc:
        return 127, str(exc)
    # pip prints one WARNING per ignored find-links location on some machines: not the error.
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "WARNING:" not in ln]
    return proc.returncode, " / ".join(lines[-3:])


def _head_size(url: str) -> int | None:
    """Bytes of the wheel or sdist at ``url`` (a local file's size, else an HTTP HEAD, retried
    once); None if unknown. A local index still installs what it holds: it counts too."""
    if url.startswith("file://"):
        try:
            return Path(urllib.request.url2pathname(url[len("file://") :])).stat().st_size
        except OSError:
            return None
    for timeout_s in (15, 30):
        try:
            req = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                length = resp.headers.get("Content-Length")
                if length is not None:
                    return int(length)
        except (OSError, ValueError):
            continue
    return None


def download_mb(python: str, package: str) -> tuple[float | None, str]:
    """Megabytes of the files ``pip install package`` would fetch (from the index or a local
    mirror), and the largest of them."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report)]
        rc, out = _run([*cmd, package], INSTALL_LIMIT_S)
        if rc != 0 or not report.exists():
            return None, f"pip could not resolve {package} (exit {rc}: {out})"
        urls = [item["download_info"]["url"] for item in json.loads(report.read_text())["install"]]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(_head_size, urls))
    unknown = [u.rsplit("/", 1)[-1] for u, s in zip(urls, found, strict=True) if s is None]
    if unknown:  # an unknown size must not pass as small: GuideLLM's torch wheel alone is 0.5 GB
        return None, f"could not get the download size of {len(unknown)} files ({unknown[0]}, ...)"
    sizes = [s or 0 for s in found]
    top = sorted(zip(sizes, urls, strict=True), reverse=True)[:3]
    largest = ", ".join(f"{u.rsplit('/', 1)[-1].split('-')[0]} {s / 1e6:.0f} MB" for s, u in top)
    return sum(sizes) / 1e6, f"{len(urls)} packages, largest: {largest}"


def _version(python: str, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    rc, out = _run([python, "-c", code], 60)
    return f"{package} {out.strip()}" if rc == 0 else package


def ensure_python_peer(name: str, retry: bool = False, allow_large: bool = False) -> Peer:
    venv = PEERS_DIR / name
    python = str(venv / "bin" / "python")
    stamp, skip = venv / ".ok", PEERS_DIR / f"{name}.skip"
    if stamp.exists():
        return Peer(name, python, stamp.read_text().strip())
    if skip.exists() and not retry:
        return Peer(name, None, skip.read_text().strip() + " (cached; --retry to try again)")
    skip.unlink(missing_ok=True)

    def skipped(reason: str) -> Peer:
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        skip.write_text(reason + "\n")
        _log(f"peers: {name} skipped: {reason}")
        return Peer(name, None, reason)

    if not (venv / "bin" / "python").exists():
        _log(f"peers: creating {venv.relative_to(PEERS_DIR.parent.parent)}")
        rc, out = _run([BASE_PYTHON, "-m", "venv", str(venv)], 120)
        if rc != 0:
            return skipped(f"could not create its venv: {out}")
        _run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], 120)
    size_mb, detail = download_mb(python, name)
    if size_mb is None:
        return skipped(detail)
    _log(f"peers: {name} would download {size_mb:,.0f} MB ({detail})")
    if size_mb > MAX_DOWNLOAD_MB and not allow_large:
        shutil.rmtree(venv, ignore_errors=True)
        return skipped(
            f"`pip install {name}` would download {size_mb:,.0f} MB "
            f"(> {MAX_DOWNLOAD_MB:,} MB limit; {detail})"
        )
    _log(f"peers: installing {name} (limit {INSTALL_LIMIT_S} s)")
    rc, out = _run([python, "-m", "pip", "install", "--quiet", name], INSTALL_LIMIT_S)
    if rc != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return skipped(f"`pip install {name}` failed (exit {rc}: {out})")
    version = _version(python, name)
    stamp.write_text(version + "\n")
    return Peer(name, python, version)


def ensure_wrk(retry: bool = False) -> Peer:
    found = shutil.which("wrk")
    if found is None:
        skip = PEERS_DIR / "wrk.skip"
        if skip.exists() and not retry:
            return Peer("wrk", None, skip.read_text().strip() + " (cached; --retry to try again)")
        if shutil.which("apt-get") is None:
            reason = "not installed and apt-get is not available (install the OS package wrk)"
        else:
            _log("peers: installing wrk with apt-get")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            cmds = [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]]
            reason = ""
            for cmd in cmds:
                try:
                    proc = subprocess.run(
                        cmd, capture_output=True, text=True, timeout=INSTALL_LIMIT_S, env=env
                    )
                except (subprocess.TimeoutExpired, OSError) as exc:
                    reason = f"`{' '.join(cmd)}` failed: {exc}"
                    break
                if proc.returncode != 0:
                    tail = proc.stderr.strip().splitlines()[-1:] or [""]
                    reason = f"`{' '.join(cmd)}` exit {proc.returncode}: {tail[0]}"
                    break
        found = shutil.which("wrk")
        if found is None:
            PEERS_DIR.mkdir(parents=True, exist_ok=True)
            skip.write_text((reason or "apt-get install wrk did not provide wrk") + "\n")
            return Peer("wrk", None, reason)
    return Peer("wrk", found, _wrk_version(found))


def _wrk_version(exe: str) -> str:
    try:  # `wrk --version` prints "wrk <version> [epoll] Copyright ..." and exits 1
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (subprocess.TimeoutExpired, OSError):
        return "wrk"
    return out.stdout.split(" Copyright")[0].strip() or "wrk"


def ensure(name: str, retry: bool = False, allow_large: bool = False) -> Peer:
    return ensure_wrk(retry) if name == "wrk" else ensure_python_peer(name, retry, allow_large)


def cached(name: str) -> Peer:
    """The peer as installed now, without installing anything (for the benchmark scripts)."""
    if name == "wrk":
        found = shutil.which("wrk")
        if found is None:
            return Peer("wrk", None, "wrk is not installed (run `python bench/peers.py wrk`)")
        return Peer("wrk", found, _wrk_version(found))
    venv = PEERS_DIR / name
    if (venv / ".ok").exists():
        return Peer(name, str(venv / "bin" / "python"), (venv / ".ok").read_text().strip())
    skip = PEERS_DIR / f"{name}.skip"
    if skip.exists():
        return Peer(name, None, skip.read_text().strip())
    return Peer(name, None, f"not installed (run `python bench/peers.py {name}`)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="install the peer load generators")
    parser.add_argument("names", nargs="*", default=[], help=f"any of {', '.join(ALL)}")
    parser.add_argument("--retry", action="store_true", help="try again peers skipped before")
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help=f"install even where the download exceeds {MAX_DOWNLOAD_MB:,} MB (GuideLLM: ~3 GB)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(ALL))
    if unknown:
        parser.error(f"unknown peer {', '.join(unknown)}: choose from {', '.join(ALL)}")
    for name in args.names or ALL:
        peer = ensure(name, args.retry, args.allow_large)
        print(f"{name}: {'installed, ' if peer.ok else 'skipped: '}{peer.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
