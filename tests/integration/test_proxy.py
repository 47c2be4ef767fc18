"""``target.proxy``: requests go through an HTTP proxy on loopback (the aiohttp transport, which
``auto`` picks for it); the fast transport refuses a proxy with a one-line error."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentload import api
from agentload.config.models import Scenario
from tests.e2e.test_cli import agentload, assert_no_traceback

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _AnswerEverything)
        self.request_lines: list[str] = []
        self.lock = threading.Lock()


class _AnswerEverything(socketserver.StreamRequestHandler):
    """A forward proxy that answers every request itself: what it saw is what went through."""

    server: _Proxy

    def handle(self) -> None:
        self.connection.settimeout(10)  # bounded: a stuck client cannot hold the thread
        for _ in range(1000):
            line = self.rfile.readline(65536)
            if not line:
                return
            length = 0
            while (header := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            with self.server.lock:
                self.server.request_lines.append(line.decode("latin-1").strip())
            self.wfile.write(ANSWER)


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on: a request that reached it would fail."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_requests_go_through_the_proxy(proxy: _Proxy, tmp_path: Path) -> None:
    port = closed_port()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    scenario = Scenario.model_validate(
        {
            "target": {"base_url": f"http://127.0.0.1:{port}/api", "protocol": "http",
                       "proxy": proxy_url},
            "load": {"model": "closed", "users": 2, "requests": 20},
            "request": {"method": "POST", "path": "/orders", "body": {"n": 1}},
        }
    )  # fmt: skip
    result = api.run(scenario, out_dir=tmp_path / "run")
    assert result.summary.ok == 20 and result.summary.error == 0
    # Absolute-form request lines, to the target, as a forward proxy receives them.
    assert proxy.request_lines == [f"POST http://127.0.0.1:{port}/api/orders HTTP/1.1"] * 20


@pytest.mark.parametrize(
    ("proxy_field", "message"),
    [
        ("http://127.0.0.1:3128\n  transport: fast", "the fast transport does not go through"),
        ("https://127.0.0.1:3128", "write it as http://host:port"),
        ("http://user:secret@127.0.0.1:3128", "credentials in the proxy URL"),
        ("http://127.0.0.1:3128/path", "without a path"),
    ],
)
def test_a_proxy_it_cannot_use_is_a_one_line_error(
    tmp_path: Path, proxy_field: str, message: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        f"target:\n  base_url: http://127.0.0.1:1\n  protocol: http\n  proxy: {proxy_field}\n"
        "load: {model: closed, users: 1, requests: 1}\nrequest: {method: GET, path: /}\n"
    )
    proc = agentload("validate", str(path))
    assert proc.returncode == 2
    assert_no_traceback(proc)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert f"{path}:" in errors[0] and "target" in errors[0]
