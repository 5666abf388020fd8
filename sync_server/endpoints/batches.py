from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent
from ..errors import ApiError
from ..protocol.manifest import parse_manifest
from .common import audit_answer, client_address, device, json, json_body, services


async def propose_batch(request: Request) -> Response:
    """Propose a batch manifest; answers which photos the server still needs. Idempotent."""
    who = await device(request)
    s = services(request)
    address = client_address(request)
    try:
        manifest = parse_manifest(await json_body(request), who.device_id or "", s.keys.seal_private_keys)
    except ApiError as error:
        raise error.audited_as(AuditEvent(action="batch.propose", actor=who.actor, device_id=who.device_id,
                                          address=address)) from None
    created, body = await s.sync.propose(who, manifest, address)
    return json(body, status_code=201 if created else 200,
                headers={"Location": f"/api/v1/batches/{manifest.batch_id}"} if created else None)


async def get_batch(request: Request) -> Response:
    """State of a batch: open or committed, and which photos are still missing."""
    who = await device(request)
    status = await services(request).sync.batch_status(who, request.path_params["batch_id"])
    await audit_answer(request, "batch.read", object=f"batch/{status['batch_id']}",
                       detail={"state": status["state"], "missing": len(status["missing"])})
    return json(status)


async def commit_batch(request: Request) -> Response:
    """Commit a batch once every photo is filed; answers the signed receipt."""
    who = await device(request)
    s = services(request)
    return json(await s.sync.commit(who, request.path_params["batch_id"], client_address(request)))


async def get_receipt(request: Request) -> Response:
    """The signed receipt of a committed batch (for a device whose commit answer was lost)."""
    who = await device(request)
    receipt = await services(request).sync.receipt(who, request.path_params["batch_id"])
    await audit_answer(request, "batch.receipt.read", object=f"batch/{request.path_params['batch_id']}")
    return json(receipt)
