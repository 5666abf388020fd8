"""Viewing filed photos (surgeons; anyone else only inside a break-glass access). Routes declared in ``routes.py``."""
from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent, record
from ..errors import ApiError
from ..types import is_uuid
from .common import client_address, services


async def thumbnail(request: Request) -> Response:
    """The photo's thumbnail (re-encoded JPEG, no metadata); every read is audited with the patient id."""
    photo_id = request.path_params["photo_id"]
    if not is_uuid(photo_id):
        raise ApiError("invalid_id")
    s = services(request)
    who = request.state.principal
    glass = getattr(request.state, "break_glass", None)
    row = await s.store.fetch_one(
        "SELECT p.state, q.patient_id, r.storage_key FROM photo p JOIN sequence q ON q.id = p.sequence_id "
        "LEFT JOIN rendition r ON r.photo_id = p.id AND r.kind = 'thumbnail' WHERE p.id = :id", {"id": photo_id})
    event = dict(action="photo.read", actor=who.actor, object=f"photo:{photo_id}", address=client_address(request),
                 patient_id=row["patient_id"] if row else None)
    detail = {"kind": "thumbnail", **({"break_glass": True, "reason": glass} if glass else {})}
    if row is None or row["state"] == "quarantined" or row["storage_key"] is None:
        code = "photo_quarantined" if row is not None and row["state"] == "quarantined" else "photo_not_found"
        raise ApiError(code).audited_as(AuditEvent(detail=detail, **event))
    data = await asyncio.to_thread(s.objects.get, row["storage_key"], s.keys.keks)
    await record(s.store, AuditEvent(detail=detail, **event))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store, private"})
