"""Keep the garbage collector's full collections off the scheduler's timeline, and hand the
set-up's freed memory back before the load.

A full (generation 2) collection walks every tracked object; after the imports of a run
that is a few hundred thousand, and it stopped the event loop for ~50 ms in the middle of a
5,000/s open-loop run (measured with ``gc.callbacks``), delaying ~250 sends by up to that
much. Freezing the objects that exist when the run starts (modules, config, the plan) moves
them out of the collector's view, so later collections only walk what the run itself makes.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the heap for the duration of a run; unfrozen (collectable again) afterwards."""
    # No gc.collect() first: it costs a full pass (tens of ms in a large process) for little
    # memory; garbage frozen now is collected after unfreeze.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def release_free_heap() -> None:
    """Return the C heap's free pages to the kernel (glibc's ``malloc_trim``; elsewhere a
    no-op). Setting up a run (validating the scenario, numpy's first folds, the buckets)
    frees ~0.7 MB that glibc would otherwise keep resident for the whole run."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
