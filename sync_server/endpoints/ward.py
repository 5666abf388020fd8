"""The ward address for the administrator's screen: the URL phones open, its QR code, the ward CA."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..listener.info import ward_address
from .admin import _qr_svg
from .common import audit_answer, json, services


async def ward(request: Request) -> Response:
    """The address phones open (public URL), its QR code (SVG data URI), how TLS is terminated
    (`ward_ca`, `hospital`, `proxy` or `none`), the ward CA's SHA-256 fingerprint and the plain-HTTP
    page that installs it (null without a ward CA)."""
    answer = ward_address(services(request).settings)
    answer["qr_svg"] = _qr_svg(answer["public_url"])
    await audit_answer(request, "ward.address")
    return json(answer)
