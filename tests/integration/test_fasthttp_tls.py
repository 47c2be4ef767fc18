"""TLS through the event loop's SSL support: a trusted certificate works (and the connection
is reused), an untrusted one fails as a connect error, never as a hang or a crash."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from agentload.clients.fasthttp import FastTransport
from agentload.clock import MonotonicClock
from agentload.config.models import Target
from agentload.records.record import CallResult, ErrorKind, Outcome, Timing
from tests.integration.test_fasthttp_wire import BodyReader, raw_server, response, work


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl from the OS)."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def run(port: int, count: int, *, insecure: bool = False) -> list[CallResult]:
    async def main() -> list[CallResult]:
        t = Target(
            base_url=f"https://127.0.0.1:{port}", timeouts={"connect": 2.0}, insecure=insecure
        )
        transport = FastTransport(t, max_connections=2)
        clock = MonotonicClock()
        try:
            return [
                await transport.exchange(work(i), Timing(), clock, BodyReader())
                for i in range(count)
            ]
        finally:
            await transport.aclose()

    return asyncio.run(main())


async def answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> None:
    w.write(response(b"secret"))
    await w.drain()


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_https_with_a_trusted_certificate(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default trust store
    with raw_server(answer, server_context(cert, key)) as server:
        results = run(server.port, 3)
    assert [r.outcome for r in results] == [Outcome.OK] * 3
    assert server.connections == 1


def test_https_with_an_untrusted_certificate_is_a_connect_error(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    with raw_server(answer, server_context(cert, key)) as server:
        [result] = run(server.port, 1)
    assert result.error_kind is ErrorKind.CONNECT_ERROR
    assert result.error_message is not None and "certificate" in result.error_message.lower()


def test_https_without_verification_when_the_target_says_insecure(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    with raw_server(answer, server_context(cert, key)) as server:
        [result] = run(server.port, 1, insecure=True)
    assert result.outcome is Outcome.OK
