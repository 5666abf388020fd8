from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .common import json, services


async def public_keys(request: Request) -> Response:
    """The server's public sealing (HPKE P-256) and receipt-signing (Ed25519) keys as a JWK set."""
    return json(services(request).keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
