from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from ..auth.devices import confirm, enroll
from ..errors import ApiError
from ..protocol.schemas import validate
from .common import audit_answer, client_address, device, json, json_body, services


async def enroll_device(request: Request) -> Response:
    """Answer a pending device credential and the server's public keys for a one-time enrolment code.

    The code is not used up until the device confirms (``POST /api/v1/devices/enroll/confirm``); a retry
    with the same code before that gets a fresh answer and the earlier credential stops working.
    """
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


async def confirm_enrollment(request: Request) -> Response:
    """Confirm an enrolment with the new bearer credential: the code is used up and the device exists."""
    # not throttled: the credential carries 256 bits, there is nothing to guess
    answer = await confirm(services(request).store, request.headers.get("authorization"), client_address(request))
    return json(answer)


async def whoami(request: Request) -> Response:
    """The calling device: lets an app with nothing to send still learn at once that it was revoked."""
    who = await device(request)
    row = await services(request).store.fetch_one(
        "SELECT id, label, enrolled_at FROM device WHERE id = :id", {"id": who.device_id})
    if row is None:  # authenticated a moment ago: only a concurrent removal gets here
        raise ApiError("device_unauthenticated")
    await audit_answer(request, "device.read", object=f"device:{who.device_id}")
    return json({"device_id": row["id"], "label": row["label"], "enrolled_at": row["enrolled_at"]})
