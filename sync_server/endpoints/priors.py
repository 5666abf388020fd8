"""Priors for the ghost overlay (issue 10, point 5): the phone asks, with its device credential, for the
latest verified photo of each view of one patient, as the de-identified preview JPEG (no metadata), so the
camera can show it faintly and the new photo matches its framing. Care use: any consent level but
withdrawn; a restricted patient is refused (a phone never opens break-glass). Every answer and refusal is
audited with the patient id (``prior.read``)."""
from __future__ import annotations

import asyncio
import base64
from typing import Any

from crypto import KeyStore
from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent
from ..clinical import queries
from ..db import Db
from ..errors import ApiError
from ..storage.fields import open_form
from .common import audit_answer, client_address, device, json, services

ACTION = "prior.read"


async def _refuse(request: Request, code: str, patient_id: str | None) -> None:
    who = request.state.principal
    raise ApiError(code).audited_as(AuditEvent(
        action=ACTION, actor=who.actor, device_id=who.device_id, patient_id=patient_id,
        object=f"patient:{patient_id}" if patient_id else None, address=client_address(request)))


async def latest_per_view(store: Db, keys: KeyStore, patient_id: str) -> list[dict[str, Any]]:
    """The newest verified photo of each view with a preview, leaving out sequences whose consent is withdrawn."""
    rows = await store.fetch_all(
        "SELECT p.id, p.view, p.captured_at, p.sequence_id, q.form, r.storage_key, r.width, r.height "
        "FROM photo p JOIN sequence q ON q.id = p.sequence_id "
        "JOIN rendition r ON r.photo_id = p.id AND r.kind = 'preview' "
        "WHERE q.patient_id = :p AND p.state = 'verified' ORDER BY p.captured_at DESC, p.id DESC",
        {"p": store.fields.pid(patient_id)})
    changes = await queries.consents(store, sorted({r["sequence_id"] for r in rows}))
    chosen: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["view"] in chosen:
            continue
        if queries.consent_level(open_form(keys, r["sequence_id"], r["form"]),
                                 changes.get(r["sequence_id"], [])) == "withdrawn":
            continue
        chosen[r["view"]] = dict(r)
    return list(chosen.values())


async def device_priors(request: Request) -> Response:
    """``GET /api/v1/devices/me/priors?patient_id=…``: the patient's latest prior per view, base64 JPEG."""
    who = await device(request)
    params = request.query_params
    if set(params) != {"patient_id"} or len(params.getlist("patient_id")) != 1:
        raise ApiError("clinical_query_invalid", details={"parameter": "patient_id"})
    patient_id = params["patient_id"]
    if not queries.ID_RE.match(patient_id):
        raise ApiError("patient_id_invalid")
    s = services(request)
    if await queries.is_restricted(s.store, patient_id):
        await _refuse(request, "patient_restricted", patient_id)
    priors = []
    for row in await latest_per_view(s.store, s.keys, patient_id):
        data = await asyncio.to_thread(s.objects.get, row["storage_key"], s.keys.keks)
        priors.append({"view": row["view"], "photo_id": row["id"], "captured_at": row["captured_at"],
                       "width": row["width"], "height": row["height"],
                       "jpeg": base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")})
    await audit_answer(request, ACTION, object=f"patient:{patient_id}", patient_id=patient_id,
                       detail={"device": who.device_id, "photos": [p["photo_id"] for p in priors]})
    return json({"patient_id": patient_id, "priors": priors}, headers={"Cache-Control": "no-store, private"})
