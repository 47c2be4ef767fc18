"""`probe` logic against real servers on loopback: the reference agent, TLS, a closing server."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from agentload.clients.probe import ProbeTarget, Round, run_probe
from agentload.clients.probe_summary import format_table, summarise
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but never listening: connections are refused, and while the test runs
    no other server can take it (a released free port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def probe(url: str, repeat: int = 4, body_bytes: int = 0, **kw: object) -> list[Round]:
    upload_path = kw.pop("upload_path", None)
    target = ProbeTarget.parse(url, upload_path=upload_path, **kw)  # type: ignore[arg-type]
    return asyncio.run(run_probe(target, repeat=repeat, body_bytes=body_bytes, timeout_s=5))


def test_reference_agent_keep_alive_and_upload(fast_agent: str) -> None:
    rounds = probe(
        f"{fast_agent}/healthz", repeat=5, body_bytes=2_000_000, upload_path="/v1/chat/completions"
    )
    assert all(r.error is None and r.status == 200 and r.keep_alive for r in rounds)
    for r in rounds:
        v = r.values
        assert "tls_ms" not in v
        assert v["new_connection_ms"] >= v["connect_ms"] + v["ttfb_new_ms"]
        assert 0 < v["ttfb_reused_ms"] < 5000
        assert v["upload_mb_per_s"] > 1  # loopback: hundreds of MB/s
        assert r.upload_status in (400, 413, 422)  # the JSON endpoint read the bytes, refused them
    summary = summarise(ProbeTarget.parse(fast_agent), rounds, 2_000_000)
    assert summary["keep_alive_rounds"] == 5 and summary["errors"] == {}
    stat = summary["measurements"]["ttfb_reused_ms"]
    assert (
        stat["n"] == 5 and stat["min"] <= stat["p50"] <= stat["p90"] <= stat["p99"] <= stat["max"]
    )
    assert summary["keep_alive_saving_ms"] is not None
    assert "first byte, reused connection" in format_table(summary)


def test_host_name_is_resolved(fast_agent: str) -> None:
    port = fast_agent.rsplit(":", 1)[1]
    rounds = probe(f"http://localhost:{port}/healthz", repeat=2)
    assert all(r.error is None and r.values["dns_ms"] >= 0 for r in rounds)


def test_refused_connection_is_an_error_not_a_hang(refused_port: int) -> None:
    rounds = probe(f"http://127.0.0.1:{refused_port}/", repeat=3)
    assert all(r.error is not None and r.error.startswith("connect: ") for r in rounds)
    assert all("ttfb_new_ms" not in r.values for r in rounds)


@pytest.fixture
def closing_server(app_server: object) -> str:
    async def close_each(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    app = web.Application()
    app.router.add_get("/", close_each)
    return app_server(app)  # type: ignore[operator,no-any-return]


def test_server_that_closes_has_no_reused_timing(closing_server: str) -> None:
    rounds = probe(closing_server + "/", repeat=3, body_bytes=1000)
    assert all(r.error is None and r.keep_alive is False for r in rounds)
    assert all("ttfb_reused_ms" not in r.values for r in rounds)
    # The upload went over a new connection; a GET-only route refuses the POST.
    assert all(r.values["upload_mb_per_s"] > 0 and r.upload_status == 405 for r in rounds)


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An aiohttp server with a self-signed certificate for 127.0.0.1, in its own thread."""
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app, handle_signals=False)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert ready.wait(10)
    try:
        yield f"https://127.0.0.1:{port}/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def test_https_times_the_tls_handshake(tls_url: str) -> None:
    rounds = probe(tls_url, repeat=3, insecure=True)
    assert all(r.error is None and r.status == 200 for r in rounds)
    assert all(r.values["tls_ms"] > 0 for r in rounds)
    assert all(r.values["new_connection_ms"] > r.values["tls_ms"] for r in rounds)


def test_https_verifies_certificates_by_default(tls_url: str) -> None:
    rounds = probe(tls_url, repeat=2)
    assert all(r.error is not None and r.error.startswith("tls: ") for r in rounds)
    assert all("certificate" in (r.error or "").lower() for r in rounds)
