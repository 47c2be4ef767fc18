"""Credentials from the environment or a file reach the target and nothing agentload writes.

A secret is planted in an environment variable and in a file, sent as headers to a server
that echoes them back in its error bodies, and every byte agentload then writes — the run
directory, the terminal output, the reports — is searched for it.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentload import api
from agentload.config import parse_scenario
from agentload.records.record import ErrorKind, Outcome
from agentload.records.rundir import RunDir
from tests.conftest import running_reference_agent
from tests.hostile_server import hostile_server


def agentload(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentload", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_a_planted_secret_is_sent_but_never_written(tmp_path: Path) -> None:
    env_secret = "sk-env-" + secrets.token_hex(12)
    file_secret = "tenant-" + secrets.token_hex(12)
    secret_file = tmp_path / "tenant.txt"
    secret_file.write_text(file_secret + "\n")
    with hostile_server() as server:
        scenario = {
            "name": "secrets",
            "target": {
                "base_url": server.url,
                "protocol": "http",
                # X-Tenant does not look like a credential: it is redacted because it came
                # from a reference, not because of its name.
                "headers": {
                    "Authorization": "Bearer ${env:PLANTED_TOKEN}",
                    "X-Tenant": f"${{file:{secret_file}}}",
                },
            },
            "load": {"arrival": "constant", "rate": "50/s", "requests": 6},
            "request": {"path": "/echo_auth"},
        }
        path = tmp_path / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario))
        out = tmp_path / "run"
        env = {"PLANTED_TOKEN": env_secret}
        ran = agentload("run", str(path), "--out", str(out), env=env)
        seen = server.state.seen_headers
    assert ran.returncode == 1, ran.stderr  # every request failed with 401
    assert [h.get("authorization") for h in seen] == [f"Bearer {env_secret}"] * 6
    assert {h.get("x-tenant") for h in seen} == {file_secret}

    outputs = [ran.stdout, ran.stderr]
    for args in (
        ["report", str(out)],
        ["report", str(out), "--json"],
        ["report", str(out), "--md"],
    ):
        shown = agentload(*args, env=env)
        assert shown.returncode in (0, 1), shown.stderr
        outputs += [shown.stdout, shown.stderr]
    agentload("report", str(out), "--html", env=env)

    written = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {"scenario.yaml", "records.jsonl", "meta.json", "summary.json", "report.html"} <= {
        p.name for p in written
    }
    for secret in (env_secret, file_secret):
        for file, data in written.items():
            assert secret.encode() not in data, f"{secret} leaked into {file.name}"
        for text in outputs:
            assert secret not in text
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["target"]["headers"] == {
        "Authorization": "<redacted>",
        "X-Tenant": "<redacted>",
    }
    # The echoed error bodies are kept, with the secrets cut out.
    records = list(RunDir.open(out).iter_records())
    assert len(records) == 6
    assert all(r.error_kind is ErrorKind.HTTP_4XX for r in records)
    assert all("<redacted>" in (r.error_message or "") for r in records)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "${env:SURELY_NOT_SET_ANYWHERE}",
            "environment variable SURELY_NOT_SET_ANYWHERE is not set",
        ),
        ("${file:/nonexistent/agentload/key}", "cannot read: No such file or directory"),
    ],
)
def test_an_unresolvable_reference_is_one_line_and_exit_2(
    tmp_path: Path, header: str, expected: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "target": {"base_url": "http://127.0.0.1:9", "headers": {"Authorization": header}},
                "load": {"rate": "1/s", "requests": 1},
                "request": {"prompt_tokens": 4},
            }
        )
    )
    ran = agentload("run", str(path), env={})
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr
    lines = [line for line in ran.stderr.splitlines() if expected in line]
    assert len(lines) == 1 and "target.headers.Authorization" in lines[0], ran.stderr
    assert f"{path}:" in lines[0]


@pytest.fixture(scope="module")
def tls_server_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1, which no default trust store accepts."""
    folder = tmp_path_factory.mktemp("tls")
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
    return context


@pytest.fixture
def tls_url(tls_server_context: ssl.SSLContext) -> Iterator[str]:
    with hostile_server(tls_server_context) as server:
        yield server.url


def tls_scenario(url: str, transport: str, **target: Any) -> Any:
    data = {
        "target": {"base_url": url, "protocol": "http", "transport": transport, **target},
        "load": {"arrival": "constant", "rate": "50/s", "requests": 3},
        "request": {"path": "/ok"},
    }
    return parse_scenario(yaml.safe_dump(data), source="tls.yaml")


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_tls_certificates_are_verified_by_default(
    tls_url: str, tmp_path: Path, transport: str
) -> None:
    result = api.run(tls_scenario(tls_url, transport), out_dir=tmp_path / "run")
    records = list(RunDir.open(tmp_path / "run").iter_records())
    assert {r.error_kind for r in records} == {ErrorKind.CONNECT_ERROR}
    assert any("certificate" in (r.error_message or "").lower() for r in records)
    assert not any("not verified" in w for w in result.summary.warnings)


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_insecure_skips_verification_and_the_summary_says_so(
    tls_url: str, tmp_path: Path, transport: str
) -> None:
    result = api.run(tls_scenario(tls_url, transport, insecure=True), out_dir=tmp_path / "run")
    records = list(RunDir.open(tmp_path / "run").iter_records())
    assert all(r.outcome is Outcome.OK for r in records) and len(records) == 3
    warning = "TLS certificates were not verified (target.insecure: true)"
    assert warning in result.summary.warnings
    summary, meta, _ = api.summarize_run_dir(tmp_path / "run")  # what `report` shows
    assert meta["tls_verified"] is False
    assert warning in summary.warnings


def test_the_reference_agent_binds_loopback_and_requires_its_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "ra-" + secrets.token_hex(16)
    monkeypatch.setenv("AGENT_TEST_KEY", key)
    monkeypatch.setenv("CLIENT_TEST_KEY", key)
    with running_reference_agent(tmp_path / "agent", "--api-key-env", "AGENT_TEST_KEY") as url:
        assert url.startswith("http://127.0.0.1:")  # loopback unless --host says otherwise
        chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        body = json.dumps(chat).encode()

        def status(headers: dict[str, str]) -> int:
            request = urllib.request.Request(
                f"{url}/v1/chat/completions",
                data=body,
                headers={"Content-Type": "application/json", **headers},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        assert status({}) == 401
        assert status({"Authorization": "Bearer wrong"}) == 401
        assert status({"Authorization": f"Bearer {key}"}) == 200
        assert status({"X-Api-Key": key}) == 200
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as health:
            assert health.status == 200  # probes need no key

        data = {
            "target": {
                "base_url": url,
                "headers": {"Authorization": "Bearer ${env:CLIENT_TEST_KEY}"},
            },
            "load": {"arrival": "constant", "rate": "20/s", "requests": 5},
            "request": {"prompt_tokens": 8, "max_tokens": 4},
        }
        result = api.run(
            parse_scenario(yaml.safe_dump(data), source="ra.yaml"), out_dir=tmp_path / "run"
        )
    assert result.summary.ok == 5
    for file in (tmp_path / "run").rglob("*"):
        if file.is_file():
            assert key.encode() not in file.read_bytes(), file.name
