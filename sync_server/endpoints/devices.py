from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent
from ..auth import capture, people
from ..auth.devices import confirm, enroll
from ..errors import ApiError
from ..protocol.schemas import validate
from . import people as people_endpoints
from .common import audit_answer, client_address, device, json, json_body, services


async def enroll_device(request: Request) -> Response:
    """Answer a pending device credential and the server's public keys for a one-time enrolment code.

    The code is not used up until the device confirms (``POST /api/v1/devices/enroll/confirm``); a retry
    with the same code before that gets a fresh answer and the earlier credential stops working.
    """
    s = services(request)
    address = client_address(request)
    if not await s.enroll_throttle.allow(address or "?"):
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


# -- the people of this phone (auth/capture.py) -----------------------------------------------------

async def people_begin(request: Request) -> Response:
    """Start adding a person to this phone: WebAuthn request options for their own passkey."""
    who = await device(request)
    await people_endpoints._throttled(request, "device.person.add")
    options = await capture.begin(services(request).store, services(request).settings)
    await audit_answer(request, "device.person.add.begin", object=f"device:{who.device_id}",
                       detail={"challenge_id": options["challenge_id"]})
    return json(options)


async def people_add(request: Request) -> Response:
    """Add a person to this phone with their passkey assertion (active, holding a capture role)."""
    who = await device(request)
    body = people_endpoints._body_dict(await json_body(request))
    s = services(request)
    await people_endpoints._throttled(request, "device.person.add")
    await people_endpoints._throttled(request, "device.person.add",
                                      await people.person_of_credential(s.store, body.get("credential")))
    person, problem = await capture.add(s.store, s.settings, who.device_id or "", body.get("challenge_id"),
                                        body.get("credential"), client_address(request))
    if problem is not None:
        if problem["code"] != "person_cannot_capture":
            await people_endpoints._failed(request, problem.get("person"))
        raise ApiError(problem["code"]).audited_as(AuditEvent(
            action="device.person.add", actor=who.actor, device_id=who.device_id, address=client_address(request),
            detail=problem))
    return json({"person": person}, status_code=201)


async def people_list(request: Request) -> Response:
    """The people added to this phone, each ``active``, ``revoked`` or ``cannot_capture``."""
    who = await device(request)
    listed = await capture.listed(services(request).store, who.device_id or "")
    await audit_answer(request, "device.person.list", object=f"device:{who.device_id}",
                       detail={"people": len(listed)}, polled_every=300)
    return json({"people": listed})


async def people_remove(request: Request) -> Response:
    """Take a person off this phone (its app forgot them)."""
    who = await device(request)
    await capture.remove(services(request).store, who.device_id or "", request.path_params["person_id"],
                         client_address(request))
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
