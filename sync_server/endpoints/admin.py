"""Administration (people, devices) and the docking station's view. Routes declared in ``routes.py``."""
from __future__ import annotations

from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import Response

from ..auth import devices, people
from ..errors import ApiError
from ..types import is_uuid
from .common import audit_answer, json, json_body, services
from .station import EMPTY_STATUS, statuses
from ..clock import iso, now_iso


def _qr_svg(text: str) -> str:
    """A QR code as an SVG data URI (segno: no network, no image library)."""
    return segno.make(text, error="m").svg_data_uri(scale=6, border=4, light="white")  # quiet zone must be light to scan


def _path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not is_uuid(value):
        raise ApiError("invalid_id")
    return value


async def list_people(request: Request) -> Response:
    """Every person: roles, passkey count, pending registration link, revocation."""
    rows = await people.list_people(services(request).store)
    await audit_answer(request, "person.list", detail={"results": len(rows)})
    return json({"people": rows})


async def invite_person(request: Request) -> Response:
    """Create a person with roles; answers their one-time registration link (and its QR code)."""
    body = await json_body(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ApiError("schema_invalid", details={"violations": [{"path": "/name", "message": "a name is required"}]})
    roles = people.check_roles(body.get("roles"))
    s = services(request)
    person_id, token, expires = await people.invite(s.store, name.strip(), roles, request.state.principal.actor,
                                                    s.settings.invitation_ttl_seconds)
    link = people.registration_link(s.settings, token)
    return json({"person_id": person_id, "registration_url": link, "expires_at": expires, "qr_svg": _qr_svg(link)},
                status_code=201)


async def reinvite_person(request: Request) -> Response:
    """A new one-time registration link for a person (the previous one stops working)."""
    s = services(request)
    token, expires = await people.reinvite(s.store, _path_id(request, "person_id"), request.state.principal.actor,
                                           s.settings.invitation_ttl_seconds)
    link = people.registration_link(s.settings, token)
    return json({"registration_url": link, "expires_at": expires, "qr_svg": _qr_svg(link)}, status_code=201)


async def revoke_person(request: Request) -> Response:
    """Revoke a person: their sessions end now, their passkeys and links stop working."""
    await people.revoke_person(services(request).store, _path_id(request, "person_id"), request.state.principal.actor)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


async def _device_rows(store: Any) -> list[dict[str, Any]]:
    return await store.fetch_all(
        "SELECT d.id, d.label, d.enrolled_at, d.revoked_at, d.last_seen_at, "
        "(SELECT COUNT(*) FROM batch b WHERE b.device_id = d.id AND b.state = 'open') AS pending_batches, "
        "(SELECT MAX(b.committed_at) FROM batch b WHERE b.device_id = d.id) AS last_sync_at "
        "FROM device d ORDER BY d.enrolled_at")


async def list_devices(request: Request) -> Response:
    """Enrolled devices (last contact, open batches, revocation) and enrolment codes not yet used up.

    A code answered but not confirmed is listed with its pending device id: it is not a device.
    """
    s = services(request)
    pending = await s.store.fetch_all(
        "SELECT label, created_at, expires_at, pending_device_id, pending_label, pending_at, answers "
        "FROM enrollment_code WHERE used_at IS NULL AND expires_at > :t "
        "ORDER BY created_at", {"t": now_iso()})
    rows = await _device_rows(s.store)
    await audit_answer(request, "device.list", detail={"results": len(rows), "pending_enrollments": len(pending)})
    # a code whose answer a phone received but has not confirmed yet is "awaiting confirmation"
    return json({"devices": rows, "pending_enrollments": [
        {**p, "state": "awaiting_confirmation" if p["pending_device_id"] else "unused"} for p in pending]})


async def enroll_device(request: Request) -> Response:
    """A one-time enrolment code for a new device, with a QR code the phone can scan."""
    body = await json_body(request)
    label = body.get("label") if isinstance(body, dict) else None
    if not isinstance(label, str) or not label.strip():
        raise ApiError("schema_invalid", details={"violations": [{"path": "/label", "message": "a label is required"}]})
    s = services(request)
    code, expires = await devices.create_enrollment_code(s.store, label.strip()[:120],
                                                         s.settings.enrollment_code_ttl_seconds,
                                                         actor=request.state.principal.actor)
    link = f"{people.people_origin(s.settings)}/#/enrol/{code}"
    return json({"code": code, "expires_at": iso(expires), "enrol_url": link, "qr_svg": _qr_svg(link)},
                status_code=201)


async def revoke_device(request: Request) -> Response:
    """Revoke a device: its next contact is refused and it erases its data."""
    if not await devices.revoke(services(request).store, _path_id(request, "device_id"), actor=request.state.principal.actor):
        raise ApiError("device_not_found")
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


async def station_devices(request: Request) -> Response:
    """The docking station: each active device, its open batches, last sync, upload errors and its last report."""
    s = services(request)
    rows = [r for r in await _device_rows(s.store) if r["revoked_at"] is None]
    errors = await s.store.fetch_all(
        "SELECT u.device_id, u.error_code, COUNT(*) AS count FROM upload u JOIN batch b ON b.id = u.batch_id "
        "WHERE b.state = 'open' AND u.error_code IS NOT NULL GROUP BY u.device_id, u.error_code")
    by_device: dict[str, list[dict[str, Any]]] = {}
    for e in errors:
        by_device.setdefault(e["device_id"], []).append({"code": e["error_code"], "count": e["count"]})
    held = await statuses(s.store)
    await audit_answer(request, "station.list", detail={"results": len(rows)}, polled_every=60)
    return json({"devices": [{**r, "errors": by_device.get(r["id"], []), **held.get(r["id"], EMPTY_STATUS)}
                             for r in rows]})
