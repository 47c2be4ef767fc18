"""A lean HTTP/1.1 client on asyncio Protocols and httptools, behind the transport seam."""

from agentload.clients.fasthttp.transport import FastTransport

__all__ = ["FastTransport"]
