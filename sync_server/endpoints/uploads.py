"""tus 1.0 at /api/v1/uploads: thin HTTP translation over ``SyncService``."""
from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent
from ..audit.service import runtime
from ..errors import ApiError
from ..protocol import tus
from .common import client_address, device, services


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": tus.TUS_VERSION, "Cache-Control": "no-store", **extra}


async def options(request: Request) -> Response:
    """tus discovery: version, extensions, maximum size, checksum algorithms."""
    s = services(request)
    return Response(status_code=204, headers=_headers(
        **{"Tus-Version": tus.TUS_VERSION, "Tus-Extension": tus.EXTENSIONS,
           "Tus-Max-Size": str(s.settings.max_blob_bytes), "Tus-Checksum-Algorithm": tus.CHECKSUM_ALGORITHMS}))


async def create(request: Request) -> Response:
    """tus creation: declare a sealed photo's upload (metadata batch_id, photo_id)."""
    tus.check_version(request.headers)
    who = await device(request)
    s = services(request)
    length = tus.parse_length(request.headers.get("upload-length"), s.settings.max_blob_bytes)
    metadata = tus.parse_metadata(request.headers.get("upload-metadata"))
    created = await s.sync.create_upload(who, length, metadata, client_address(request))
    return Response(status_code=201, headers=_headers(
        Location=f"/api/v1/uploads/{created['id']}", **{"Upload-Expires": format_datetime(created["expires"], usegmt=True),
                                                        "Upload-Offset": "0"}))


def _expires(text: str) -> str:
    return format_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")), usegmt=True)


async def head(request: Request) -> Response:
    """tus core: how many bytes the server holds, so an interrupted upload resumes there."""
    tus.check_version(request.headers)
    who = await device(request)
    info = await services(request).sync.upload_info(who, request.path_params["upload_id"])
    upload_id = request.path_params["upload_id"]
    await runtime(services(request)).repeats.note(("upload.head", who.actor, upload_id), AuditEvent(
        action="upload.head", actor=who.actor, device_id=who.device_id, address=client_address(request),
        object=request.scope["route"].path, detail={"upload_id": upload_id, "offset": info["offset"]}))
    return Response(status_code=200, headers=_headers(**{
        "Upload-Offset": str(info["offset"]), "Upload-Length": str(info["length"]),
        "Upload-Expires": _expires(info["expires_at"])}))


async def patch(request: Request) -> Response:
    """tus core: append bytes at Upload-Offset; the last byte triggers verification and filing."""
    tus.check_version(request.headers)
    who = await device(request)
    s = services(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != tus.OFFSET_CONTENT_TYPE:
        raise ApiError("unsupported_media_type", f"PATCH bodies must be {tus.OFFSET_CONTENT_TYPE}.")
    offset = tus.parse_offset(request.headers.get("upload-offset"))
    checksum = tus.parse_checksum(request.headers.get("upload-checksum"))
    new_offset = await s.sync.write_chunk(who, request.path_params["upload_id"], offset, checksum,
                                          request.stream(), client_address(request))
    return Response(status_code=204, headers=_headers(**{"Upload-Offset": str(new_offset)}))


async def delete(request: Request) -> Response:
    """tus termination: abandon an upload; its bytes are removed."""
    tus.check_version(request.headers)
    who = await device(request)
    await services(request).sync.terminate(who, request.path_params["upload_id"], client_address(request))
    return Response(status_code=204, headers=_headers())

