"""Optional API key: with ``api_key_env`` set, every request but the health check and the
metrics must carry the key, as ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``.

The key is read from the environment variable the settings name, never from the command line
or a settings file, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import hmac
import json
import os

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from agentload.reference_agent.settings import AgentSettings

OPEN_PATHS = frozenset({"/healthz", "/metrics"})
_ERROR = json.dumps(
    {"error": {"message": "missing or invalid API key", "type": "invalid_api_key"}}
).encode()


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, key: str) -> None:
        if not key:
            raise ValueError("the API key is empty")
        self.app = app
        self._key = key.encode()

    def _allowed(self, scope: Scope) -> bool:
        if scope.get("path") in OPEN_PATHS:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                if hmac.compare_digest(value[7:].strip(), self._key):
                    return True
            elif name == b"x-api-key" and hmac.compare_digest(value.strip(), self._key):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_ERROR)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _ERROR})


def api_key_middleware(settings: AgentSettings) -> list[Middleware]:
    """The middleware when ``settings.api_key_env`` is set (its variable must be set too)."""
    if settings.api_key_env is None:
        return []
    key = os.environ.get(settings.api_key_env, "")
    if not key:
        raise ValueError(f"api_key_env: environment variable {settings.api_key_env} is not set")
    return [Middleware(ApiKeyMiddleware, key=key)]
