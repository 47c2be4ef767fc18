"""Keep the garbage collector's full collections off the scheduler's timeline.

A full (generation 2) collection walks every tracked object; after the imports of a run
that is a few hundred thousand, and it stopped the event loop for ~50 ms in the middle of a
5,000/s open-loop run (measured with ``gc.callbacks``), delaying ~250 sends by up to that
much. Freezing the objects that exist when the run starts (modules, config, the plan) moves
them out of the collector's view, so later collections only walk what the run itself makes.
"""

from __future__ import annotations

import gc
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
