from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from ..auth.devices import enroll
from ..errors import ApiError
from ..protocol.schemas import validate
from .common import audit_answer, client_address, device, json, json_body, services


async def enroll_device(request: Request) -> Response:
    """Exchange a one-time enrolment code for a device credential and the server's public keys."""
    s = services(request)
    address = client_address(request)
    if not s.enroll_throttle.allow(address or "?"):
        raise ApiError("enrollment_throttled", headers={"Retry-After": "60"})
    body = await json_body(request)
    violations = validate("enrollment", body)
    if violations:
        raise ApiError("schema_invalid", details={"violations": [dataclasses.asdict(v) for v in violations]})
    device_id, credential = await enroll(s.store, body["code"], body.get("label"), address)
    return json({"device_id": device_id, "credential": credential, "keys": s.keys.jwks()}, status_code=201)


async def whoami(request: Request) -> Response:
    """The calling device: lets an app with nothing to send still learn at once that it was revoked."""
    who = await device(request)
    row = await services(request).store.fetch_one(
        "SELECT id, label, enrolled_at FROM device WHERE id = :id", {"id": who.device_id})
    await audit_answer(request, "device.read", object=f"device:{who.device_id}")
    return json({"device_id": row["id"], "label": row["label"], "enrolled_at": row["enrolled_at"]})
