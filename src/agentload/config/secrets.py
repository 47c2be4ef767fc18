"""Credentials referenced from a scenario, and their redaction from everything written.

A header value may hold ``${env:NAME}`` (an environment variable), ``${file:/path}`` (a file's
content, stripped of surrounding whitespace; ``~`` is expanded) or the older ``${NAME}``. The
reference is resolved when the scenario is loaded and the value is remembered here, so that
the run directory (``scenario.yaml``, records' error messages, reports) and the terminal get
``<redacted>`` wherever it would appear. The scenario file keeps the reference, not the secret,
and the command line never needs to carry it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

REDACTED = "<redacted>"
REF_RE = re.compile(r"\$\{(?:(env|file):([^}]+)|([A-Za-z_][A-Za-z0-9_]*))\}")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SECRET_FILE_BYTES = 64 * 1024
# Shorter values would redact ordinary text ("1", "on") all over the outputs.
_MIN_SECRET_CHARS = 4

_known: set[str] = set()


class SecretRefError(ValueError):
    """A reference that cannot be resolved; the message says how to fix it."""


def resolve_match(match: re.Match[str], environ: Mapping[str, str]) -> str:
    """The value of one ``REF_RE`` match."""
    kind, name, bare = match.group(1), match.group(2), match.group(3)
    return resolve_ref(kind, (name if bare is None else bare).strip(), environ)


def resolve_ref(kind: str | None, name: str, environ: Mapping[str, str]) -> str:
    """The value of one ``${...}`` reference (``kind`` None is the ``${NAME}`` form)."""
    if kind in (None, "env"):
        if not _ENV_NAME_RE.match(name):
            raise SecretRefError(f"${{{name}}}: not an environment variable name")
        if name not in environ:
            raise SecretRefError(f"environment variable {name} is not set; export it or use --set")
        return environ[name]
    path = Path(name).expanduser()
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretRefError(f"${{file:{name}}}: cannot read: {exc.strerror}") from None
    if len(raw) > _MAX_SECRET_FILE_BYTES:
        raise SecretRefError(f"${{file:{name}}}: larger than 64 KiB; is it the right file?")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretRefError(f"${{file:{name}}}: not UTF-8 text") from None


def remember(value: str) -> None:
    """Treat ``value`` as a secret from now on, in this process."""
    if len(value) >= _MIN_SECRET_CHARS:
        _known.add(value)


def known() -> bool:
    return bool(_known)


def redact_text(text: str) -> str:
    """``text`` with every remembered secret replaced by ``<redacted>``."""
    if not _known:
        return text
    for secret in sorted(_known, key=len, reverse=True):  # a longer one may contain a shorter
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def forget_all() -> None:
    """For tests: start from no remembered secrets."""
    _known.clear()
