"""Client overhead of ``agentload run`` against a plain aiohttp + uvloop loop.

The entry point of the ``overhead`` package beside it (its docstring explains the method)::

    .venv/bin/python bench/client_overhead.py --runs 3 [--json results.json] [--profile DIR]

Two sub-commands are for the benchmark's own subprocesses: ``aiohttp-worker`` (the baseline
client) and ``profile-worker`` (``agentload`` under cProfile). Each imports only what it
needs, so neither pays for the rest of the package. ``engine-only`` measures the engine and
its record sinks in-process, without a network (``overhead/engine_only.py``)::

    .venv/bin/python bench/client_overhead.py engine-only [--runs 5] [--requests 100000]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["aiohttp-worker"]:
        from overhead.aiohttp_worker import main as worker
    elif args[:1] == ["profile-worker"]:
        from overhead.profiling import profile_worker as worker
    elif args[:1] == ["engine-only"]:
        from overhead.engine_only import main as worker
    else:
        from overhead.cli import main as bench

        return bench(args)
    return worker(args[1:])


if __name__ == "__main__":
    sys.exit(main())
