"""Clinicians' workspace API (issue 10; contract: docs/clinical-api.md). Thin: rules and queries are in
``clinical/``. Readers are surgeons, or anyone inside break-glass (``auth/permissions.py``); restricted
patients only inside break-glass; every read and every refusal is audited with the patient id."""
from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import IO, Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..audit.log import AuditEvent
from ..clinical import catalog, export, queries, stats
from ..errors import ApiError
from ..types import is_uuid
from .common import audit_answer, client_address, json, json_body, services
from ..clock import now_iso, utc_now

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_EXPORT = 200
CHUNK = 256 * 1024


def _glass(request: Request) -> str | None:
    """The reason of the caller's open break-glass access, if any (surgeons too may open one)."""
    reason = getattr(request.state, "break_glass", None)
    if reason:
        return str(reason)
    session = getattr(request.state, "session", None)
    now = now_iso()
    if session and session["break_glass_until"] and session["break_glass_until"] > now:
        return str(session["break_glass_reason"])
    return None


def _detail(request: Request, **extra: Any) -> dict[str, Any]:
    glass = _glass(request)
    return {**extra, **({"break_glass": True, "reason": glass} if glass else {})}


async def _refuse(request: Request, action: str, code: str, *, patient_id: str | None, object: str,
                  details: dict[str, Any] | None = None, **extra: Any) -> None:
    who = request.state.principal
    raise ApiError(code, details=details).audited_as(AuditEvent(
        action=action, actor=who.actor, patient_id=patient_id, object=object,
        address=client_address(request), detail=_detail(request, code=code, **extra)))


async def _open(request: Request, action: str, patient_id: str, object: str) -> None:
    """Refuse a restricted patient unless the caller is inside break-glass."""
    if not _glass(request) and await queries.is_restricted(services(request).store, patient_id):
        await _refuse(request, action, "patient_restricted", patient_id=patient_id, object=object)


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    unknown = set(request.query_params) - allowed
    repeated = [k for k in request.query_params if len(request.query_params.getlist(k)) > 1]
    if unknown or repeated:
        raise ApiError("clinical_query_invalid", details={"parameter": sorted(unknown or set(repeated))[0]})
    return dict(request.query_params)


def _patient_id(request: Request) -> str:
    patient_id = request.path_params["patient_id"]
    if not queries.ID_RE.match(patient_id):
        raise ApiError("patient_id_invalid")
    return patient_id


def _hide(patient: dict[str, Any], glass: bool) -> dict[str, Any]:
    """A restricted patient outside break-glass: the identifier only, as the search found it."""
    if not patient["restricted"] or glass:
        return patient
    return {**patient, "family": None, "given": None, "birth_date": None, "sex": None, "sequences": 0,
            "photos": 0, "last_taken_at": None}


async def search_patients(request: Request) -> Response:
    """Find patients by hospital identifier (exact) or name words (prefix), optionally by birth date."""
    params = _params(request, {"q", "birth_date"})
    q, birth = params.get("q", "").strip(), params.get("birth_date")
    if not 1 <= len(q) <= 100:
        raise ApiError("clinical_query_invalid", details={"parameter": "q"})
    if birth is not None:
        try:
            date.fromisoformat(birth)
            assert re.match(r"^\d{4}-\d{2}-\d{2}$", birth)
        except (ValueError, AssertionError):
            raise ApiError("clinical_query_invalid", details={"parameter": "birth_date"}) from None
    found = await queries.search(services(request).store, q, birth)
    glass = _glass(request) is not None
    ids = [p["id"] for p in found]
    await audit_answer(request, "patient.search", patient_id=ids[0] if len(ids) == 1 else None,
                       detail=_detail(request, patients=ids))
    return json({"patients": [_hide(p, glass) for p in found]})


async def recent_patients(request: Request) -> Response:
    """The 20 patients this person opened last, most recent first."""
    _params(request, set())
    who = request.state.principal
    found = await queries.recent(services(request).store, who.id)
    glass = _glass(request) is not None
    await audit_answer(request, "patient.recent", detail=_detail(request, patients=[p["id"] for p in found]))
    return json({"patients": [_hide(p, glass) for p in found]})


async def _readable_patient(request: Request, view: str) -> dict[str, Any]:
    patient_id = _patient_id(request)
    s = services(request)
    object = f"patient:{patient_id}"
    await _open(request, "patient.read", patient_id, object)
    found = await queries.patient(s.store, patient_id)
    if found is None:
        await _refuse(request, "patient.read", "patient_not_found", patient_id=patient_id, object=object, view=view)
    assert found is not None
    await queries.remember(s.store, request.state.principal.id, patient_id)
    return found


async def get_patient(request: Request) -> Response:
    """One patient: identity from the index, counts of sequences and photos."""
    found = await _readable_patient(request, "patient")
    await audit_answer(request, "patient.read", object=f"patient:{found['id']}", patient_id=found["id"],
                       detail=_detail(request, view="patient"))
    return json(found)


async def patient_sequences(request: Request) -> Response:
    """The patient's timeline: every sequence, newest first, with its photos, protocol and current consent."""
    found = await _readable_patient(request, "sequences")
    timeline = await queries.timeline(services(request).store, services(request).keys, found["id"])
    await audit_answer(request, "patient.read", object=f"patient:{found['id']}", patient_id=found["id"],
                       detail=_detail(request, view="sequences", sequences=len(timeline)))
    return json({"patient": found, "sequences": timeline})


async def _photo(request: Request, action: str, kind: str) -> dict[str, Any]:
    photo_id = request.path_params["photo_id"]
    if not is_uuid(photo_id):
        raise ApiError("invalid_id")
    row = await services(request).store.fetch_one(
        "SELECT p.id, p.state, p.view, p.mime, p.captured_at, p.storage_key, q.patient_id, r.storage_key AS rendition "
        "FROM photo p JOIN sequence q ON q.id = p.sequence_id "
        "LEFT JOIN rendition r ON r.photo_id = p.id AND r.kind = :kind WHERE p.id = :id", {"id": photo_id, "kind": kind})
    object = f"photo:{photo_id}"
    patient_id = row["patient_id"] if row else None
    if row is None or row["state"] != "verified":
        code = "photo_quarantined" if row is not None and row["state"] == "quarantined" else "photo_not_found"
        await _refuse(request, action, code, patient_id=patient_id, object=object, kind=kind)
    assert row is not None
    await _open(request, action, row["patient_id"], object)
    return dict(row)


async def photo_preview(request: Request) -> Response:
    """The photo for the screen: JPEG re-encoded without metadata, long side at most 2048 px."""
    row = await _photo(request, "photo.read", "preview")
    s = services(request)
    if row["rendition"] is not None:
        data = await asyncio.to_thread(s.objects.get, row["rendition"], s.keys.keks)
    else:  # filed before previews existed: made now, once, and kept
        made = await s.decoder.render(row["id"], "preview")
        if made is None:
            await _refuse(request, "photo.read", "photo_not_found", patient_id=row["patient_id"],
                          object=f"photo:{row['id']}", kind="preview")
        assert made is not None
        data = made[0]
    await audit_answer(request, "photo.read", object=f"photo:{row['id']}", patient_id=row["patient_id"],
                       detail=_detail(request, kind="preview"))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store, private"})


async def photo_original(request: Request) -> Response:
    """The original file, bit-exact as filed (surgeons only); its own audited action, photo.original."""
    row = await _photo(request, "photo.original", "original")
    s = services(request)
    data = await asyncio.to_thread(s.objects.get, row["storage_key"], s.keys.keks)
    await audit_answer(request, "photo.original", object=f"photo:{row['id']}", patient_id=row["patient_id"],
                       detail=_detail(request, size=len(data)))
    name = f"clinphoto-{row['view']}-{str(row['captured_at'])[:10]}.{export.EXTENSIONS.get(row['mime'], 'bin')}"
    return Response(data, media_type=row["mime"], headers={
        "Cache-Control": "no-store, private", "Content-Disposition": f'attachment; filename="{name}"'})


async def change_consent(request: Request) -> Response:
    """Change a sequence's consent level with a written reason; the history is kept and audited."""
    sequence_id = request.path_params["sequence_id"]
    if not is_uuid(sequence_id):
        raise ApiError("invalid_id")
    body = await json_body(request)
    s = services(request)
    seq = await s.store.fetch_one("SELECT patient_id FROM sequence WHERE id = :id", {"id": sequence_id})
    object = f"sequence:{sequence_id}"
    if seq is None:
        await _refuse(request, "sequence.consent", "sequence_not_found", patient_id=None, object=object)
    assert seq is not None
    await _open(request, "sequence.consent", seq["patient_id"], object)
    level = body.get("level") if isinstance(body, dict) else None
    reason = body.get("reason") if isinstance(body, dict) else None
    if (not isinstance(body, dict) or set(body) - {"level", "reason"} or level not in catalog.LEVELS
            or not isinstance(reason, str) or not 5 <= len(reason.strip()) <= 1000):
        await _refuse(request, "sequence.consent", "reason_required", patient_id=seq["patient_id"], object=object)
    assert isinstance(level, str) and isinstance(reason, str)
    await queries.change_consent(s.store, s.keys, sequence_id, level, reason.strip(), request.state.principal.actor,
                                 {"address": client_address(request), "detail": _detail(request)})
    return json(await queries.sequence(s.store, s.keys, sequence_id))


async def _stream(spool: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(spool.read, CHUNK):
            yield chunk
    finally:
        spool.close()


async def create_export(request: Request) -> Response:
    """A ZIP of photos and manifest.json for care, teaching or publication, as each photo's consent allows."""
    body = await json_body(request)
    purpose = body.get("purpose") if isinstance(body, dict) else None
    ids = body.get("photo_ids") if isinstance(body, dict) else None
    if (not isinstance(body, dict) or set(body) - {"purpose", "photo_ids"} or purpose not in catalog.PURPOSES
            or not isinstance(ids, list) or not 1 <= len(ids) <= MAX_EXPORT or len(set(map(str, ids))) != len(ids)):
        raise ApiError("export_invalid")
    if not all(isinstance(i, str) and is_uuid(i) for i in ids):
        raise ApiError("invalid_id")
    who = request.state.principal
    if purpose == "care" and "surgeon" not in who.roles:
        raise ApiError("original_surgeons_only")
    s = services(request)
    photos = await queries.photos_for_export(s.store, s.keys, ids)
    missing = sorted(set(ids) - {p["id"] for p in photos})
    if missing:
        await _refuse(request, "photo.export", "photo_not_found", patient_id=None, object="export",
                      details={"photos": missing}, purpose=purpose, photos=missing)
    if not _glass(request):
        for patient_id in sorted({p["patient_id"] for p in photos}):
            await _open(request, "photo.export", patient_id, "export")
    refused = export.refused(str(purpose), photos)
    if refused:
        patients = sorted({p["patient_id"] for p in photos if p["id"] in refused})
        await _refuse(request, "photo.export", "consent_insufficient", patient_id=patients[0] if len(patients) == 1
                      else None, object="export", details={"photos": refused}, purpose=purpose, photos=refused,
                      patients=patients)
    spool = await asyncio.to_thread(export.write_zip, str(purpose), photos,
                                    lambda key: s.objects.get(key, s.keys.keks))
    for p in photos:
        await audit_answer(request, "photo.export", object=f"photo:{p['id']}", patient_id=p["patient_id"],
                           detail=_detail(request, purpose=purpose, consent=p["consent"]))
    name = f"clinphoto-export-{utc_now().date().isoformat()}.zip"
    return StreamingResponse(_stream(spool), media_type="application/zip", headers={
        "Cache-Control": "no-store, private", "Content-Disposition": f'attachment; filename="{name}"'})


async def _figures(request: Request) -> dict[str, Any]:
    params = _params(request, {"from", "to"})
    for key in ("from", "to"):
        if key in params and not MONTH_RE.match(params[key]):
            raise ApiError("clinical_query_invalid", details={"parameter": key})
    figures = await stats.compute(services(request).store, params.get("from"), params.get("to"))
    await audit_answer(request, "stats.read", detail={"from": params.get("from"), "to": params.get("to")})
    return figures


async def get_stats(request: Request) -> Response:
    """Activity figures (patients, sequences, photos) by month, surgeon and procedure; no patient data."""
    return json(await _figures(request))


async def get_stats_csv(request: Request) -> Response:
    """The same activity figures as CSV."""
    figures = await _figures(request)
    return Response(stats.to_csv(figures), media_type="text/csv; charset=utf-8", headers={
        "Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="clinphoto-stats.csv"'})
