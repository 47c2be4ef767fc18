"""`agentload probe` as a user runs it: against the reference agent, with bad input, unreachable."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import agentload, assert_no_traceback

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but never listening: connections are refused, and while the test runs
    no other server can take it (a released free port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_probe_json_and_out_into_a_run_directory(fast_agent: str, tmp_path: Path) -> None:
    url = f"{fast_agent}/healthz"
    args = ("--repeat", "4", "--body-bytes", "500000", "--upload-path", "/v1/chat/completions")
    proc = agentload("probe", url, *args, "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    summary = json.loads(proc.stdout)
    assert json.loads((tmp_path / "probe.json").read_text()) == summary
    assert summary["url"] == url and summary["rounds"] == 4 and summary["errors"] == {}
    measured = summary["measurements"]
    for key in ("dns_ms", "connect_ms", "ttfb_new_ms", "ttfb_reused_ms", "upload_mb_per_s"):
        assert measured[key]["n"] == 4, key
        assert 0 <= measured[key]["p50"] <= measured[key]["p99"] <= measured[key]["max"]
    assert "tls_ms" not in measured  # plain http


def test_probe_table(fast_agent: str) -> None:
    proc = agentload("probe", f"{fast_agent}/healthz", "-n", "3", "--body-bytes", "0")
    assert proc.returncode == 0, proc.stderr
    assert "first byte, reused connection" in proc.stdout and "p99" in proc.stdout
    assert "upload" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ftp://example",), "probe URL: 'ftp://example': write it as http(s)://"),
        (("http://127.0.0.1:9/", "--repeat", "0"), "--repeat 0: give 1 to 10000 rounds"),
        (("http://127.0.0.1:9/", "--timeout", "soon"), "--timeout soon:"),
        (("http://127.0.0.1:9/", "--out", "/no/such/dir/p.json"), "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = agentload("probe", *args)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr


def test_unreachable_target_exits_1_quickly(refused_port: int) -> None:
    proc = agentload("probe", f"http://127.0.0.1:{refused_port}/", "-n", "3", timeout=30)
    assert proc.returncode == 1
    assert "connect:" in proc.stdout and "every round failed" in proc.stderr
