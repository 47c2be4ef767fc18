"""TLS for https targets: certificates are verified unless the scenario says
``target.insecure: true`` (a self-signed test deployment), which the summary then warns about."""

from __future__ import annotations

import ssl

from agentload.config.models import Target


def tls_context(target: Target) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
