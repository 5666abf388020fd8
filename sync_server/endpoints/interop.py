"""FHIR R4 read API and interop admin API (issue 6). Routes are listed in ``ROUTES``; app.py mounts them.

Until people's sessions land (issue 4), each API is guarded by its own bearer token setting and
is off when that setting is empty. Every FHIR read is audited with the patient it concerns.
"""
from __future__ import annotations

import hmac
import json as jsonlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..audit.log import AuditEvent, record
from ..errors import ApiError
from ..interop import fhir, patients
from ..types import Principal, is_uuid
from .common import client_address, json, json_body, services

FHIR_JSON = "application/fhir+json"


def _bearer(request: Request, token: str, name: str) -> Principal:
    if not token:
        raise ApiError("interop_disabled")
    header = request.headers.get("authorization", "")
    given = header[7:] if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError("interop_unauthenticated", headers={"WWW-Authenticate": "Bearer"})
    who = Principal(kind="token", id=name)
    request.state.principal = who
    return who


def _fhir_response(content: Any) -> Response:
    return JSONResponse(content, media_type=FHIR_JSON, headers={"Cache-Control": "no-store"})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/r4"


async def _audit_read(request: Request, who: Principal, action: str, obj: str, patient_ids: set[str | None],
                      count: int) -> None:
    for patient_id in sorted(patient_ids, key=lambda p: p or "") or [None]:
        await record(services(request).store, AuditEvent(
            action=action, actor=who.actor, patient_id=patient_id, object=obj, address=client_address(request),
            detail={"results": count}))


# --- FHIR -------------------------------------------------------------------------------------

_MEDIA_SQL = (
    "SELECT p.*, s.form, si.patient_id AS index_patient_id FROM photo p JOIN sequence s ON s.id = p.sequence_id "
    "JOIN sequence_identity si ON si.sequence_id = s.id AND si.state = 'reconciled' WHERE p.state = 'verified'")
_PREFIXES = {"eq": "=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<"}


def _patient_ref(value: str) -> str:
    value = value.split("/")[-1] if value.startswith(("Patient/", "http")) else value
    if not patients.ID_RE.match(value):
        raise ApiError("fhir_search_invalid", details={"parameter": "subject", "problem": "not a patient id"})
    return value


def _token(value: str) -> str:
    return value.split("|", 1)[1] if "|" in value else value


def _media_filters(request: Request) -> tuple[str, dict[str, Any], set[str]]:
    where, values, searched = "", {}, set()
    for i, (name, value) in enumerate(request.query_params.multi_items()):
        key = f"v{i}"
        if name in ("subject", "patient"):
            values[key] = _patient_ref(value)
            searched.add(values[key])
            where += f" AND si.patient_id = :{key}"
        elif name == "_id":
            values[key] = value
            where += f" AND p.id = :{key}"
        elif name == "identifier":
            token = _token(value)
            values[key] = token.removeprefix("urn:uuid:")
            where += f" AND p.id = :{key}"
        elif name == "created":
            op, date = (_PREFIXES[value[:2]], value[2:]) if value[:2] in _PREFIXES else ("=", value)
            if not date[:4].isdigit():
                raise ApiError("fhir_search_invalid", details={"parameter": "created", "problem": "not a date"})
            values[key] = date
            where += f" AND substr(p.captured_at, 1, {len(date)}) {op} :{key}"
        elif name in ("_format", "_count"):
            continue
        else:
            raise ApiError("fhir_search_invalid", details={"parameter": name, "problem": "unsupported"})
    return where, values, searched


def _media_resource(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    settings = services(request).settings
    return fhir.media(row, jsonlib.loads(row["form"]), row["index_patient_id"], system=settings.patient_id_system,
                      wado_base=settings.dicomweb_url)


async def media_search(request: Request) -> Response:
    """FHIR R4 Media search (subject, patient, identifier, created, _id): a searchset Bundle."""
    who = _bearer(request, services(request).settings.fhir_token, "fhir")
    where, values, searched = _media_filters(request)
    rows = await services(request).store.fetch_all(_MEDIA_SQL + where + " ORDER BY p.captured_at, p.id", values)
    resources = [_media_resource(request, r) for r in rows]
    await _audit_read(request, who, "fhir.search", "Media", {r["index_patient_id"] for r in rows} | searched,
                      len(rows))
    return _fhir_response(fhir.searchset(resources, _base(request), str(request.url)))


async def media_read(request: Request) -> Response:
    """FHIR R4 Media read: one photo of a reconciled sequence."""
    who = _bearer(request, services(request).settings.fhir_token, "fhir")
    media_id = request.path_params["media_id"]
    if not is_uuid(media_id):
        raise ApiError("not_found")
    row = await services(request).store.fetch_one(_MEDIA_SQL + " AND p.id = :id", {"id": media_id})
    if row is None:
        raise ApiError("not_found")
    await _audit_read(request, who, "fhir.read", f"Media/{media_id}", {row["index_patient_id"]}, 1)
    return _fhir_response(_media_resource(request, row))


async def patient_search(request: Request) -> Response:
    """FHIR R4 Patient search (identifier, _id) in the hospital patient index."""
    who = _bearer(request, services(request).settings.fhir_token, "fhir")
    where, values = "", {}
    for i, (name, value) in enumerate(request.query_params.multi_items()):
        if name in ("_id", "identifier"):
            values[f"v{i}"] = _token(value)
            where += f" AND id = :v{i}"
        elif name not in ("_format", "_count"):
            raise ApiError("fhir_search_invalid", details={"parameter": name, "problem": "unsupported"})
    rows = await services(request).store.fetch_all("SELECT * FROM patient_index WHERE 1 = 1" + where + " ORDER BY id",
                                                   values)
    system = services(request).settings.patient_id_system
    await _audit_read(request, who, "fhir.search", "Patient", {r["id"] for r in rows} | set(values.values()),
                      len(rows))
    return _fhir_response(fhir.searchset([fhir.patient(r, system) for r in rows], _base(request), str(request.url)))


async def patient_read(request: Request) -> Response:
    """FHIR R4 Patient read from the hospital patient index."""
    who = _bearer(request, services(request).settings.fhir_token, "fhir")
    patient_id = request.path_params["patient_id"]
    row = await services(request).store.fetch_one("SELECT * FROM patient_index WHERE id = :id", {"id": patient_id})
    if row is None:
        raise ApiError("not_found")
    await _audit_read(request, who, "fhir.read", f"Patient/{patient_id}", {patient_id}, 1)
    return _fhir_response(fhir.patient(row, services(request).settings.patient_id_system))


async def metadata(request: Request) -> Response:
    """FHIR R4 CapabilityStatement of this read API."""
    if not services(request).settings.fhir_token:
        raise ApiError("interop_disabled")
    return _fhir_response(fhir.capability_statement(_base(request)))


# --- interop admin ----------------------------------------------------------------------------

def _interop(request: Request) -> Any:
    return services(request).handles["interop"]


async def outbox_status(request: Request) -> Response:
    """Interop outbox state: counts per state and every row not yet sent."""
    _bearer(request, services(request).settings.interop_admin_token, "interop-admin")
    return json(await _interop(request).outbox.status())


async def quarantine_list(request: Request) -> Response:
    """Sequences waiting in the patient quarantine."""
    who = _bearer(request, services(request).settings.interop_admin_token, "interop-admin")
    rows = await services(request).store.fetch_all(
        "SELECT si.sequence_id, si.claimed_id, si.reason, si.decided_at, s.device_id, s.created_at, "
        "(SELECT COUNT(*) FROM photo p WHERE p.sequence_id = si.sequence_id) AS photos "
        "FROM sequence_identity si JOIN sequence s ON s.id = si.sequence_id WHERE si.state = 'quarantined' "
        "ORDER BY si.decided_at")
    await _audit_read(request, who, "interop.quarantine.list", "quarantine", {r["claimed_id"] for r in rows},
                      len(rows))
    return json({"sequences": rows})


async def quarantine_decide(request: Request) -> Response:
    """Decide a quarantined sequence: file it under an index patient, or reject it."""
    who = _bearer(request, services(request).settings.interop_admin_token, "interop-admin")
    sequence_id = request.path_params["sequence_id"]
    if not is_uuid(sequence_id):
        raise ApiError("invalid_id")
    body = await json_body(request)
    reject = isinstance(body, dict) and body.get("decision") == "reject"
    patient_id = body.get("patient_id") if isinstance(body, dict) else None
    if not reject and not (isinstance(patient_id, str) and patients.ID_RE.match(patient_id)):
        raise ApiError("schema_invalid", details={"violations": [
            'send {"patient_id": "<index identifier>"} or {"decision": "reject"}']})
    try:
        state = await _interop(request).decide(sequence_id, None if reject else patient_id, who.actor)
    except LookupError:
        raise ApiError("not_in_quarantine") from None
    except patients.IdentityError:
        raise ApiError("patient_unknown") from None
    return json({"sequence_id": sequence_id, "state": state})


# OpenAPI metadata (endpoints/openapi.py reads it): a service bearer token, not a device credential
for _endpoint in (metadata, media_search, media_read, patient_search, patient_read):
    _endpoint.openapi = {"ok": "200", "auth": False, "tag": "fhir"}  # type: ignore[attr-defined]
for _endpoint in (outbox_status, quarantine_list, quarantine_decide):
    _endpoint.openapi = {"ok": "200", "auth": False, "tag": "interop"}  # type: ignore[attr-defined]

ROUTES: list[BaseRoute] = [
    Route("/fhir/r4/metadata", metadata, methods=["GET"]),
    Route("/fhir/r4/Media", media_search, methods=["GET"]),
    Route("/fhir/r4/Media/{media_id}", media_read, methods=["GET"]),
    Route("/fhir/r4/Patient", patient_search, methods=["GET"]),
    Route("/fhir/r4/Patient/{patient_id}", patient_read, methods=["GET"]),
    Route("/api/v1/interop/outbox", outbox_status, methods=["GET"]),
    Route("/api/v1/interop/quarantine", quarantine_list, methods=["GET"]),
    Route("/api/v1/interop/quarantine/{sequence_id}", quarantine_decide, methods=["POST"]),
]
