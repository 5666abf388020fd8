"""Audit API for security officers (issue 5). Its routes are declared in ``routes.py``.

Two kinds of callers, as ``auth/permissions.py`` says: a signed-in security officer (session cookie,
CSRF token on changes; the access middleware has put them on ``request.state.principal``), or a
machine client with the audit service token (``CLINPHOTO_AUDIT_TOKEN``). Reading the log is itself
logged (CNIL): every answered read appends an ``audit.read`` entry, every export an ``audit.export``
entry, before the answer leaves; refusals are audited by the app like any other; each of these
entries raises or extends a ``log_read`` alert. Hashes are standard base64, as in checkpoints.
"""
from __future__ import annotations

import base64
import csv
import hmac
import io
import json as jsonlib
from typing import Any, AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..audit import live, search, tree
from ..audit.scanner import alert_json
from ..audit.fhir import audit_event
from ..audit.log import AuditEvent, append, record
from ..audit.merkle import ProofError
from ..audit.service import log_origin, runtime
from ..auth.permissions import OFFICER
from ..errors import ApiError
from ..db import Db
from ..interop.patients import ID_RE
from ..types import Principal
from .common import client_address, json, json_body, services
from ..clock import now_iso, utc_now

MAX_ALERTS = 1000  # ``status=all`` answers the newest ones
_REASON_MAX = 500


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


async def _reader(request: Request) -> Principal:
    """A signed-in security officer (already checked by the access middleware), or the audit token."""
    who: Principal | None = getattr(request.state, "principal", None)
    if who is not None and who.kind == "user":
        if OFFICER not in who.roles:  # the permission table refuses them first; never rely on it alone
            raise ApiError("forbidden", details={"roles": sorted(who.roles)})
        return who
    header = request.headers.get("authorization")
    if header is None:
        raise ApiError("session_required")
    token = services(request).settings.audit_token
    if not token:
        raise ApiError("audit_api_disabled")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError("audit_unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="audit"'})
    who = Principal(kind="token", id="audit")
    request.state.principal = who
    return who


def _query(request: Request, *allowed: str) -> dict[str, str]:
    return search.check_parameters(request.query_params.multi_items(), allowed)


def _int(query: dict[str, str], name: str) -> int:
    text = query.get(name)
    if text is None or not text.isdigit() or len(text) > 18:
        raise search.invalid(name, "a non-negative integer is required")
    return int(text)


def _object(request: Request) -> str:
    route = request.scope.get("route")
    return route.path if route is not None else request.url.path


async def _log(request: Request, who: Principal, detail: dict[str, Any], action: str = "audit.read",
               patient_id: str | None = None) -> None:
    await record(services(request).store, AuditEvent(
        action=action, actor=who.actor, address=client_address(request), object=_object(request),
        patient_id=patient_id, detail=detail))
    runtime(services(request)).alerts.wake()


def _origin(request: Request) -> str:
    return log_origin(services(request).settings)


# -- proofs and checkpoints (machine clients, offline verifiers) --------------------------------


async def latest_checkpoint(request: Request) -> Response:
    """The latest signed checkpoint (C2SP signed note) and the log's verifier key."""
    who = await _reader(request)
    _query(request)
    await _log(request, who, {})
    row = await tree.latest_checkpoint(services(request).store)
    if row is None:
        raise ApiError("audit_no_checkpoint")
    origin = _origin(request)
    return json({"origin": origin, "size": int(row["size"]), "root_hash": _b64(bytes.fromhex(row["root_hash"])),
                 "checkpoint": row["note"], "created_at": row["created_at"],
                 "verifier_key": tree.log_verifier(services(request).keys, origin).vkey()})


async def inclusion_proof(request: Request) -> Response:
    """RFC 9162 inclusion proof of entry ``index`` (0-based: seq - 1) in the tree of ``size``."""
    who = await _reader(request)
    query = _query(request, "index", "size")
    index, size = _int(query, "index"), _int(query, "size")
    await _log(request, who, {"index": index, "size": size})
    try:
        leaf, proof = await tree.inclusion_proof(services(request).store, index, size)
    except ProofError as exc:
        raise ApiError("audit_proof_unavailable", str(exc)) from None
    return json({"index": index, "size": size, "leaf_hash": _b64(leaf), "proof": [_b64(h) for h in proof]})


async def consistency_proof(request: Request) -> Response:
    """RFC 9162 consistency proof from tree size ``from`` to tree size ``to``."""
    who = await _reader(request)
    query = _query(request, "from", "to")
    old, new = _int(query, "from"), _int(query, "to")
    await _log(request, who, {"from": old, "to": new})
    try:
        proof = await tree.consistency_proof(services(request).store, old, new)
    except ProofError as exc:
        raise ApiError("audit_proof_unavailable", str(exc)) from None
    return json({"from": old, "to": new, "proof": [_b64(h) for h in proof]})


# -- the officer's journal ---------------------------------------------------------------------


def _logged(filters: search.Filters) -> dict[str, str]:
    """The filters as the entry recording the search keeps them: the patient is its ``patient_id``
    (sealed in the database like every patient identifier), never a detail in clear."""
    return {k: v for k, v in filters.given().items() if k != "patient"}


async def entries(request: Request) -> Response:
    """A page of audit entries matching the filters, with names, labels and hashes; ``next`` pages on."""
    who = await _reader(request)
    query = _query(request, *search.FILTERS, *search.PAGING)
    filters, paging = search.Filters.parse(query), search.Paging.parse(query)
    rows, cursor = await search.page(services(request).store, filters, paging)
    await _log(request, who, {"filters": _logged(filters), "order": paging.order, "results": len(rows),
                              **({"first_seq": rows[0]["seq"], "last_seq": rows[-1]["seq"]} if rows else {})},
               patient_id=filters.patient)
    return json({"entries": rows, "next": cursor})


def _seq(request: Request) -> int:
    text = request.path_params["seq"]
    if not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise search.invalid("seq", "an entry's sequence number (1, 2, ...)")
    return int(text)


async def entry(request: Request) -> Response:
    """One entry and its inclusion proof in the latest checkpoint, verified on the server."""
    who = await _reader(request)
    _query(request)
    seq = _seq(request)
    s = services(request)
    row = await search.entry_row(s.store, seq)
    if row is None:
        raise ApiError("audit_entry_not_found", details={"seq": seq})
    await _log(request, who, {"seq": seq}, patient_id=row["patient_id"])
    return json({"entry": search.to_entry(row), "inclusion": await live.inclusion(s.store, s.keys, _origin(request), row)})


async def verification(request: Request) -> Response:
    """Chain and tree checked up to the head against the latest signed checkpoint: verified or broken.

    From the point the last successful check reached (only new entries are read); ``full=true``
    recomputes from the first entry."""
    who = await _reader(request)
    query = _query(request, "full")
    if query.get("full", "false") not in ("true", "false"):
        raise search.invalid("full", "true or false")
    s = services(request)
    async with runtime(s).verifying:  # one check at a time: it keeps where it stopped
        status = await live.verify_status(s.store, s.keys, _origin(request), full=query.get("full") == "true")
    await _log(request, who, {"status": status.status, "entries_checked": status.entries_checked,
                              "first_bad_seq": status.first_bad_seq, "problem": status.problem,
                              "mode": status.mode, "verified_from": status.verified_from})
    return json(status.json())


def _stamp() -> str:
    return utc_now().strftime("%Y%m%dT%H%M%SZ")


async def _export(request: Request, kind: str, media_type: str,
                  render: Callable[[AsyncIterator[dict[str, Any]]], AsyncIterator[str]]) -> Response:
    who = await _reader(request)
    filters = search.Filters.parse(_query(request, *search.FILTERS))
    s = services(request)
    upto = await search.head_seq(s.store)  # a fixed end: the export terminates while the log grows
    await _log(request, who, {"filters": _logged(filters), "format": kind, "upto": upto}, action="audit.export",
               patient_id=filters.patient)

    async def body() -> AsyncIterator[bytes]:
        async for text in render(search.iter_rows(s.store, filters, upto)):
            yield text.encode()

    return StreamingResponse(body(), media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="clinphoto-audit-{_stamp()}.{kind}"',
        "Cache-Control": "no-store"})


async def export_csv(request: Request) -> Response:
    """The matching entries as CSV (a header row, one row per entry), streamed."""

    async def render(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(search.CSV_COLUMNS)
        count = 0
        async for row in rows:
            writer.writerow(search.csv_row(search.to_entry(row)))
            count += 1
            if count % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return await _export(request, "csv", "text/csv; charset=utf-8", render)


async def export_ndjson(request: Request) -> Response:
    """The matching entries as FHIR R4 AuditEvent resources, one per line (NDJSON), streamed."""
    observer = _origin(request)

    async def render(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
        lines: list[str] = []
        async for row in rows:
            lines.append(jsonlib.dumps(audit_event(row, observer), sort_keys=True, ensure_ascii=False) + "\n")
            if len(lines) == 200:
                yield "".join(lines)
                lines = []
        yield "".join(lines)

    return await _export(request, "ndjson", "application/fhir+ndjson", render)


# -- alerts and restricted patients ------------------------------------------------------------


async def alerts(request: Request) -> Response:
    """Alerts raised on the log, newest first: the open ones (default) or all of them."""
    who = await _reader(request)
    status = _query(request, "status").get("status", "open")
    if status not in ("open", "all"):
        raise search.invalid("status", "open or all")
    where = "WHERE acknowledged_at IS NULL " if status == "open" else ""
    rows = await services(request).store.fetch_all(
        f"SELECT * FROM audit_alert {where}ORDER BY id DESC LIMIT :n", {"n": MAX_ALERTS})
    await _log(request, who, {"status": status, "results": len(rows)})
    return json({"alerts": [alert_json(r, services(request).store.fields) for r in rows]})


async def acknowledge(request: Request) -> Response:
    """Acknowledge an alert (it leaves the open list; a new occurrence raises a new alert)."""
    who = await _reader(request)
    _query(request)
    text = request.path_params["alert_id"]
    if not text.isdigit() or len(text) > 18:
        raise search.invalid("alert_id", "an alert id (1, 2, ...)")
    alert_id = int(text)
    now = now_iso()
    async with services(request).store.write() as db:
        row = await db.fetch_one("SELECT * FROM audit_alert WHERE id = :id", {"id": alert_id})
        if row is None:
            raise ApiError("audit_alert_not_found", details={"id": alert_id})
        already = row["acknowledged_at"] is not None
        if not already:
            await db.execute("UPDATE audit_alert SET acknowledged_at = :t, acknowledged_by = :by WHERE id = :id",
                             {"t": now, "by": who.actor, "id": alert_id})
            row = {**row, "acknowledged_at": now, "acknowledged_by": who.actor}
        await append(db, AuditEvent(action="audit.alert.acknowledge", actor=who.actor, address=client_address(request),
                                    object=f"alert:{alert_id}", patient_id=row["patient_id"],
                                    detail={"kind": row["kind"], "already_acknowledged": already}))
    return json({"alert": alert_json(row, services(request).store.fields)})


async def _restricted(store: Db) -> list[dict[str, Any]]:
    rows = [{**r, "patient_id": store.fields.open_pid(r["patient_id"])} for r in await store.fetch_all(
        "SELECT patient_id, reason, since FROM audit_restricted_patient")]
    return sorted(rows, key=lambda r: (r["since"], r["patient_id"]))


async def restricted_patients(request: Request) -> Response:
    """Patients flagged as restricted (VIP, staff...): any access to them raises an alert."""
    who = await _reader(request)
    _query(request)
    rows = await _restricted(services(request).store)
    await _log(request, who, {"results": len(rows)})
    return json({"patients": rows})


def _violation(path: str, message: str) -> ApiError:
    return ApiError("schema_invalid", details={"violations": [{"path": path, "message": message}]})


async def set_restricted(request: Request) -> Response:
    """Flag a patient as restricted, change the reason, or lift the flag; answers the list."""
    who = await _reader(request)
    _query(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) - {"patient_id", "reason", "restricted"}:
        raise _violation("", 'send {"patient_id": "...", "reason": "...", "restricted": true|false}')
    patient_id, reason, restricted = body.get("patient_id"), body.get("reason"), body.get("restricted")
    if not isinstance(patient_id, str) or not ID_RE.match(patient_id):
        raise _violation("/patient_id", "a hospital patient identifier")
    if not isinstance(restricted, bool):
        raise _violation("/restricted", "true or false")
    if not isinstance(reason, str) or len(reason) > _REASON_MAX or (restricted and not reason.strip()):
        raise _violation("/reason", f"a reason (at most {_REASON_MAX} characters), required to restrict")
    reason = reason.strip()
    now = now_iso("microseconds")
    s = services(request)
    async with s.store.write() as db:
        stored = db.fields.pid(patient_id)
        before = await db.fetch_one("SELECT reason FROM audit_restricted_patient WHERE patient_id = :p",
                                    {"p": stored})
        if restricted:
            await db.execute(
                "INSERT INTO audit_restricted_patient (patient_id, reason, since, marked_by) VALUES (:p, :r, :t, :by) "
                "ON CONFLICT (patient_id) DO UPDATE SET reason = excluded.reason, marked_by = excluded.marked_by",
                {"p": stored, "r": reason, "t": now, "by": who.actor})
        else:
            await db.execute("DELETE FROM audit_restricted_patient WHERE patient_id = :p", {"p": stored})
        await append(db, AuditEvent(action="audit.restricted_patient.update", actor=who.actor,
                                    address=client_address(request), object="restricted-patients",
                                    patient_id=patient_id,
                                    detail={"restricted": restricted, "reason": reason,
                                            "was_restricted": before is not None}))
    runtime(s).alerts.wake()
    return json({"patients": await _restricted(s.store)})
