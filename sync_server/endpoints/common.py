"""What every endpoint needs: the app's services, the caller, a bounded JSON body."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..auth.devices import authenticate
from ..errors import ApiError
from ..protocol.manifest import parse_json_body
from ..types import Principal


def services(request: Request) -> Any:
    return request.app.state.services


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def device(request: Request) -> Principal:
    known = getattr(request.state, "principal", None)
    if known is not None and known.kind == "device":  # the permission middleware already checked it
        return known
    who = await authenticate(services(request).store, request.headers.get("authorization"),
                             client_address(request), request.url.path)
    request.state.principal = who  # so that a later refusal is audited under the caller's name
    return who


async def json_body(request: Request) -> Any:
    limit = services(request).settings.max_json_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise ApiError("unsupported_media_type", "Send the document as application/json.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", details={"max_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError("body_too_large", details={"max_bytes": limit})
    return parse_json_body(bytes(body))


def json(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    base = {"Cache-Control": "no-store"}
    if headers:
        base.update(headers)
    return JSONResponse(content, status_code=status_code, headers=base)
