"""``generator.open_sockets`` counts this process's socket descriptors and nothing else."""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile

import pytest

from agentload.telemetry.generator import open_sockets

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")


def test_counts_each_open_socket_and_not_files() -> None:
    before = open_sockets()
    assert before is not None
    with contextlib.ExitStack() as stack:
        for _ in range(7):
            stack.enter_context(socket.socket())
        for _ in range(5):
            stack.enter_context(tempfile.TemporaryFile())
        assert open_sockets() == before + 7
    assert open_sockets() == before


def test_resident_bytes_is_this_processs_resident_set() -> None:
    import psutil

    from agentload.telemetry.generator import resident_bytes

    ours = resident_bytes()
    theirs = psutil.Process().memory_info().rss
    assert ours is not None and ours > 1_000_000  # an interpreter is megabytes
    # Read a moment apart: equal to within what the interpreter allocates meanwhile.
    assert abs(ours - theirs) < 4 * 1024 * 1024
