"""FHIR read API and interop admin API (issue 6). Its routes are declared in ``routes.py``.

Who may call (the rules are in ``auth/permissions.py``, enforced before any endpoint runs):

- FHIR read API (``/fhir/r4/``, and ``/fhir/r5/`` with ``CLINPHOTO_FHIR_R5``): surgeons, or any
  person inside a break-glass access (each read audited with its reason), by their session; and
  the EMR, a machine client, with the ``CLINPHOTO_FHIR_TOKEN`` bearer token. ``metadata`` is
  public, as FHIR clients read it before they authenticate.
- Interop admin API (``/api/v1/interop/``): the outbox status to administrators (they configure
  the PACS and the EMR); the patient quarantine, listed and decided, to administrators and
  surgeons. A quarantined sequence needs someone who knows whom it shows: the surgeon who took it
  (surgeons may view the photos) or the hospital's identity staff (administrators, who work from
  the index, never the photos). Nurses move data and officers audit: neither files photos under
  a patient. Machine clients use ``CLINPHOTO_INTEROP_ADMIN_TOKEN``.

Each API answers people whenever interop is configured, and its token only when that token is
set. Every FHIR read, quarantine listing and decision is audited with the patient it concerns and
who made it.
"""
from __future__ import annotations

import hmac
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..audit.log import AuditEvent, record
from ..errors import ApiError
from ..interop import fhir, paging, patients
from ..interop.fhir import R4, R5
from ..interop.service import Interop
from ..storage.fields import ID_PREFIX, open_form, open_patient
from ..types import Principal, is_uuid
from .common import client_address, json, json_body, services

FHIR_JSON = "application/fhir+json"
Rows = list[dict[str, Any]]


def _caller(request: Request, token: str, name: str) -> Principal:
    """A signed-in person the permission table let through (session, role and CSRF checked there),
    or the machine client presenting this API's service bearer token."""
    if not services(request).settings.interop_enabled:
        raise ApiError("interop_disabled")
    who = getattr(request.state, "principal", None)
    if who is not None and who.kind == "user":
        return who
    header = request.headers.get("authorization", "")
    if not token:
        raise ApiError("interop_disabled" if header else "session_required")
    given = header[7:] if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError("interop_unauthenticated", headers={"WWW-Authenticate": "Bearer"})
    who = Principal(kind="token", id=name)
    request.state.principal = who
    return who


def _negotiate(request: Request) -> None:
    """406 unless the request accepts JSON: this server writes no XML or RDF."""
    if not fhir.acceptable(request.query_params.get("_format"), request.headers.get("accept")):
        raise ApiError("fhir_format_unsupported")


def _strict(request: Request) -> bool:
    """``Prefer: handling=strict``: an unknown or unsupported parameter is an error, not ignored."""
    return any(p.strip().replace(" ", "") == "handling=strict"
               for p in request.headers.get("prefer", "").split(","))


def _fhir_caller(request: Request, version: str) -> Principal:
    settings = services(request).settings
    if version == R5 and not settings.fhir_r5:
        raise ApiError("interop_disabled", "The FHIR R5 API is off on this server (CLINPHOTO_FHIR_R5).")
    who = _caller(request, settings.fhir_token, "fhir")
    _negotiate(request)
    return who


def _admin_caller(request: Request) -> Principal:
    return _caller(request, services(request).settings.interop_admin_token, "interop-admin")


def _fhir_response(content: Any) -> Response:
    return JSONResponse(content, media_type=FHIR_JSON, headers={"Cache-Control": "no-store"})


def _base(request: Request, version: str) -> str:
    return str(request.base_url).rstrip("/") + f"/fhir/{version}"


async def _audit_read(request: Request, who: Principal, action: str, obj: str, patient_ids: set[str | None],
                      count: int) -> None:
    glass = getattr(request.state, "break_glass", None)
    detail: dict[str, Any] = {"results": count, **({"break_glass": True, "reason": glass} if glass else {})}
    for patient_id in sorted(patient_ids, key=lambda p: p or "") or [None]:
        await record(services(request).store, AuditEvent(
            action=action, actor=who.actor, patient_id=patient_id, object=obj, address=client_address(request),
            detail=detail))


def _bad_search(parameter: str, problem: str) -> ApiError:
    return ApiError("fhir_search_invalid", details={"parameter": parameter, "problem": problem})


# --- searches: filters, keyset paging, searchset Bundles ------------------------------------------

_PHOTO_SELECT = "SELECT p.*, s.form, si.patient_id AS index_patient_id"
_PHOTO_FROM = (
    " FROM photo p JOIN sequence s ON s.id = p.sequence_id "
    "JOIN sequence_identity si ON si.sequence_id = s.id AND si.state = 'reconciled' WHERE p.state = 'verified'")
_PHOTO_KEY = ("p.captured_at", "p.id")
# accepted, and answered the same way whatever they ask: the total is always exact, the resources whole,
# in the key order (capture time, id); without ``Prefer: handling=strict`` unknown parameters are ignored too
_NO_OP = frozenset({"_format", "_total", "_totalMethod", "_summary", "_elements", "_sort"})
_PAGING = frozenset({"_count", "_cursor"})
_NEVER = "1 = 0"


def _patient_ref(value: str) -> str:
    value = value.split("/")[-1] if value.startswith(("Patient/", "http")) else value
    if not patients.ID_RE.match(value):
        raise _bad_search("subject", "not a patient id")
    return value


def _unknown(request: Request, name: str) -> None:
    if _strict(request) and name not in _NO_OP:
        raise _bad_search(name, "unsupported")


def _date_filter(name: str, value: str, key: str, values: dict[str, Any]) -> str:
    """The SQL condition of a date search on the capture time (RFC 3339 in UTC, compared to the second)."""
    try:
        prefix, low, high = fhir.date_range(value)
    except fhir.SearchValueError as exc:
        raise _bad_search(name, str(exc)) from None
    t = "substr(p.captured_at, 1, 19)"
    condition = {"eq": f"({t} >= :{key}l AND {t} < :{key}h)", "ne": f"NOT ({t} >= :{key}l AND {t} < :{key}h)",
                 "ge": f"{t} >= :{key}l", "gt": f"{t} >= :{key}h", "lt": f"{t} < :{key}l",
                 "le": f"{t} < :{key}h"}[prefix]
    for bound, moment in (("l", low), ("h", high)):
        if f":{key}{bound}" in condition:
            values[f"{key}{bound}"] = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return condition


def _photo_identifier(value: str) -> str | None:
    """The photo id an identifier token names, None when it names no photo of this server."""
    system, code = fhir.token(value)
    if system == "urn:dicom:uid":
        raise _bad_search("identifier", "search by DICOM SOP Instance UID is not supported; use urn:ietf:rfc:3986")
    if system not in (None, "urn:ietf:rfc:3986"):
        return None
    photo_id = code.removeprefix("urn:uuid:")
    if system is not None and not code.startswith("urn:uuid:"):
        return None
    return photo_id if is_uuid(photo_id) else None


def _photo_filters(request: Request, version: str) -> tuple[str, dict[str, Any], set[str], list[str]]:
    """(SQL conditions, their values, patients searched, parameters used) of a photo search."""
    date_param = "created" if version == R4 else "creation"
    where, values, searched, used = "", {}, set(), []
    for i, (name, value) in enumerate(request.query_params.multi_items()):
        key = f"v{i}"
        if name in ("subject", "patient"):
            values[key] = services(request).store.fields.pid(_patient_ref(value))  # stored sealed
            searched.add(values[key])
            where += f" AND si.patient_id = :{key}"
        elif name == "_id":
            values[key] = value
            where += f" AND p.id = :{key}"
        elif name == "identifier":
            photo_id = _photo_identifier(value)
            if photo_id:
                values[key] = photo_id
                where += f" AND p.id = :{key}"
            else:
                where += f" AND {_NEVER}"
        elif name == date_param:
            where += " AND " + _date_filter(name, value, key, values)
        elif name in _PAGING:
            continue  # the links write their own
        else:
            _unknown(request, name)
            continue
        used.append(name)
    return where, values, searched, used


def _patient_filters(request: Request) -> tuple[str, dict[str, Any], set[str], list[str]]:
    where, values, used = "", {}, []
    system_of_ids = services(request).settings.patient_id_system
    fields = services(request).store.fields  # identifiers are stored sealed: the search seals its values
    for i, (name, value) in enumerate(request.query_params.multi_items()):
        if name == "_id":
            values[f"v{i}"] = fields.pid(value)
            where += f" AND id = :v{i}"
        elif name == "identifier":
            system, code = fhir.token(value)
            if system in (None, system_of_ids):
                values[f"v{i}"] = fields.pid(code)
                where += f" AND id = :v{i}"
            else:  # the index publishes its identifiers under one system: another names no patient here
                where += f" AND {_NEVER}"
        elif name in _PAGING:
            continue  # the links write their own
        else:
            _unknown(request, name)
            continue
        used.append(name)
    return where, values, set(values.values()), used


async def _page(request: Request, select: str, source: str, values: dict[str, Any], key: tuple[str, ...],
                key_of: Callable[[dict[str, Any]], tuple[str, ...]], base: str,
                used: list[str]) -> tuple[Rows, int, dict[str, str]]:
    """(one page of rows, total matches, Bundle links) of ``select + source`` in ``key`` order."""
    store = services(request).store
    try:
        page = paging.parse(request.query_params.get("_count"), request.query_params.get("_cursor"), len(key))
    except paging.PagingError as exc:
        raise _bad_search(exc.parameter, exc.problem) from None
    total = int(await store.fetch_val("SELECT COUNT(*)" + source, values))
    ascending, descending = ", ".join(key), ", ".join(f"{c} DESC" for c in key)
    rows: list[dict[str, Any]] = []
    if page.count:
        where, marks = ("", {}) if page.key is None else paging.keyset(
            key, page.key, ">" if page.direction == paging.AFTER else "<")
        order = ascending if page.direction == paging.AFTER else descending
        rows = await store.fetch_all(f"{select}{source}{' AND ' + where if where else ''} ORDER BY {order} LIMIT :n",
                                     {**values, **marks, "n": page.count})
        if page.direction == paging.BEFORE:
            rows.reverse()

    async def beyond(edge: tuple[str, ...], op: str) -> bool:
        where, marks = paging.keyset(key, edge, op)
        return await store.fetch_one(f"SELECT 1{source} AND {where} LIMIT 1", {**values, **marks}) is not None

    # the links carry the parameters the search used, as FHIR asks (ignored ones are left out)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in used]
    path = f"{base}/{request.url.path.rsplit('/', 1)[-1]}"

    def link(cursor: str | None = None) -> str:
        extra = [("_count", str(page.count))] + ([("_cursor", cursor)] if cursor else [])
        return f"{path}?{urlencode(kept + extra)}"

    given = [(k, v) for k, v in request.query_params.multi_items() if k in _PAGING]
    links = {"self": f"{path}?{urlencode(kept + given)}" if kept + given else path, "first": link()}
    if rows and await beyond(key_of(rows[-1]), ">"):
        links["next"] = link(paging.cursor(paging.AFTER, key_of(rows[-1])))
    if rows and await beyond(key_of(rows[0]), "<"):
        links["previous"] = link(paging.cursor(paging.BEFORE, key_of(rows[0])))
    return rows, total, links


def _photo_resource(request: Request, row: Mapping[str, Any], version: str) -> dict[str, Any]:
    settings = services(request).settings
    return fhir.photo_resource(version, row, open_form(services(request).keys, row["sequence_id"], row["form"]),
                               services(request).store.fields.open_pid(row["index_patient_id"]),
                               system=settings.patient_id_system, wado_base=settings.dicomweb_url)


async def _photo_search(request: Request, version: str) -> Response:
    who = _fhir_caller(request, version)
    where, values, searched, used = _photo_filters(request, version)
    base = _base(request, version)
    rows, total, links = await _page(request, _PHOTO_SELECT, _PHOTO_FROM + where, values, _PHOTO_KEY,
                                     lambda r: (r["captured_at"], r["id"]), base, used)
    await _audit_read(request, who, "fhir.search", fhir.PHOTO_TYPE[version],
                      {r["index_patient_id"] for r in rows} | searched, len(rows))
    resources = [_photo_resource(request, r, version) for r in rows]
    return _fhir_response(fhir.searchset(resources, base, links, total=total, version=version))


async def _photo_read(request: Request, version: str, photo_id: str) -> Response:
    who = _fhir_caller(request, version)
    if not is_uuid(photo_id):
        raise ApiError("not_found")
    row = await services(request).store.fetch_one(_PHOTO_SELECT + _PHOTO_FROM + " AND p.id = :id", {"id": photo_id})
    if row is None:
        raise ApiError("not_found")
    await _audit_read(request, who, "fhir.read", f"{fhir.PHOTO_TYPE[version]}/{photo_id}",
                      {row["index_patient_id"]}, 1)
    return _fhir_response(_photo_resource(request, row, version))


async def _patient_search(request: Request, version: str) -> Response:
    who = _fhir_caller(request, version)
    where, values, searched, used = _patient_filters(request)
    base = _base(request, version)
    rows, total, links = await _page(request, "SELECT *", " FROM patient_index WHERE 1 = 1" + where, values,
                                     ("id",), lambda r: (r["id"],), base, used)
    await _audit_read(request, who, "fhir.search", "Patient", {r["id"] for r in rows} | searched, len(rows))
    system, fields = services(request).settings.patient_id_system, services(request).store.fields
    return _fhir_response(fhir.searchset([fhir.patient(open_patient(fields, r), system, version) for r in rows], base, links,
                                         total=total, version=version))


async def _patient_read(request: Request, version: str) -> Response:
    who = _fhir_caller(request, version)
    patient_id = request.path_params["patient_id"]
    fields = services(request).store.fields
    row = None if patient_id.startswith(ID_PREFIX) else await services(request).store.fetch_one(
        "SELECT * FROM patient_index WHERE id = :id", {"id": fields.pid(patient_id)})
    if row is None:
        raise ApiError("not_found")
    await _audit_read(request, who, "fhir.read", f"Patient/{patient_id}", {patient_id}, 1)
    return _fhir_response(fhir.patient(open_patient(fields, row), services(request).settings.patient_id_system, version))


def _metadata(request: Request, version: str) -> Response:
    settings = services(request).settings
    if not settings.interop_enabled or (version == R5 and not settings.fhir_r5):
        raise ApiError("interop_disabled")
    _negotiate(request)
    return _fhir_response(fhir.capability_statement(_base(request, version), version))


# --- FHIR R4 ----------------------------------------------------------------------------------

async def metadata(request: Request) -> Response:
    """FHIR R4 CapabilityStatement of this read API."""
    return _metadata(request, R4)


async def media_search(request: Request) -> Response:
    """FHIR R4 Media search (subject, patient, identifier, created, _id; _count pages): a searchset Bundle."""
    return await _photo_search(request, R4)


async def media_read(request: Request) -> Response:
    """FHIR R4 Media read: one photo of a reconciled sequence."""
    return await _photo_read(request, R4, request.path_params["media_id"])


async def patient_search(request: Request) -> Response:
    """FHIR R4 Patient search (identifier, _id; _count pages) in the hospital patient index."""
    return await _patient_search(request, R4)


async def patient_read(request: Request) -> Response:
    """FHIR R4 Patient read from the hospital patient index."""
    return await _patient_read(request, R4)


# --- FHIR R5 (CLINPHOTO_FHIR_R5) -------------------------------------------------------------

async def metadata_r5(request: Request) -> Response:
    """FHIR R5 CapabilityStatement of this read API."""
    return _metadata(request, R5)


async def document_reference_search(request: Request) -> Response:
    """FHIR R5 DocumentReference search (subject, patient, identifier, creation, _id; _count pages)."""
    return await _photo_search(request, R5)


async def document_reference_read(request: Request) -> Response:
    """FHIR R5 DocumentReference read: one photo of a reconciled sequence."""
    return await _photo_read(request, R5, request.path_params["document_reference_id"])


async def patient_search_r5(request: Request) -> Response:
    """FHIR R5 Patient search (identifier, _id; _count pages) in the hospital patient index."""
    return await _patient_search(request, R5)


async def patient_read_r5(request: Request) -> Response:
    """FHIR R5 Patient read from the hospital patient index."""
    return await _patient_read(request, R5)


# --- interop admin ----------------------------------------------------------------------------

def _interop(request: Request) -> Interop:
    return services(request).handles["interop"]


async def outbox_status(request: Request) -> Response:
    """Interop outbox state: counts per state and every row not yet sent."""
    who = _admin_caller(request)
    status = await _interop(request).outbox.status()
    await _audit_read(request, who, "interop.outbox.list", "outbox", set(), len(status["unsent"]))
    return json(status)


async def quarantine_list(request: Request) -> Response:
    """Sequences waiting in the patient quarantine, with the reason and the identities the index proposes."""
    who = _admin_caller(request)
    rows = await patients.quarantine(services(request).store)
    await _audit_read(request, who, "interop.quarantine.list", "quarantine", {r["claimed_id"] for r in rows},
                      len(rows))
    return json({"sequences": rows})


async def quarantine_decide(request: Request) -> Response:
    """Decide a quarantined sequence: file it under an index patient, or reject it."""
    who = _admin_caller(request)
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
    except patients.InactiveIdentity:
        raise ApiError("patient_inactive") from None
    except patients.IdentityError:
        raise ApiError("patient_unknown") from None
    return json({"sequence_id": sequence_id, "state": state})
