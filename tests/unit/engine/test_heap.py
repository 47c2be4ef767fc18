import gc
import platform
import subprocess
import sys

import pytest

from agentload.engine.heap import frozen_heap


def test_objects_made_before_a_run_are_out_of_the_collectors_view_during_it() -> None:
    before = gc.get_freeze_count()
    keep = [object() for _ in range(10)]
    with frozen_heap():
        assert gc.get_freeze_count() > before  # a full collection no longer walks them
    assert gc.get_freeze_count() == 0  # collectable again after the run
    assert keep


_FREED_HEAP_PROBE = """
import sys
from agentload.engine.heap import release_free_heap
def resident_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4
# 20 MB of 1-KB buffers (C heap, not the object allocator's arenas), all freed but the last,
# which pins the heap's top: glibc keeps the freed memory resident until trimmed.
chunks = [bytearray(1000) for _ in range(20_000)]
for i in range(len(chunks)):
    chunks[i][0] = 1
last = chunks[-1]
del chunks[:-1]
before = resident_kib()
if sys.argv[1] == "release":
    release_free_heap()
print(before - resident_kib())
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_the_set_ups_freed_heap_goes_back_to_the_kernel() -> None:
    def released_kib(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _FREED_HEAP_PROBE, mode],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return int(out.stdout.strip())

    assert released_kib("keep") < 2_000  # freed, but still resident
    assert released_kib("release") > 10_000  # most of the 20 MB handed back
