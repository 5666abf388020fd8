"""The docking station: each phone reports what it holds (counts only), a nurse asks one to sync now.

``PUT /api/v1/devices/me/status`` is the phone's heartbeat: counts of what it still holds, its
sync state and progress, its last error code; never a patient identifier or a photo. The server
keeps the latest report per device and writes only when it changes, so a heartbeat every few
seconds costs a read, not a durable write. The answer tells the phone whether a nurse asked it to
sync; the request is cleared once the phone reports that a sync is running. Audited sparingly:
one entry per sync start, finish and error (and per request to sync), not per progress tick.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent, append
from ..errors import ApiError
from ..types import is_uuid
from .common import audit_answer, device, json, json_body, services
from ..clock import now_iso

SYNC_STATES = ("idle", "syncing", "error")
_MAX_COUNT = 1_000_000
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELDS = ("pending_photos", "pending_sequences", "oldest_pending_at", "sync_state", "progress_done",
           "progress_total", "last_error_code")
# sync_state transition -> audit action (a heartbeat that changes nothing of the state is not one)
_TRANSITIONS = {"syncing": "device.sync.start", "idle": "device.sync.finish", "error": "device.sync.error"}



def _count(body: Mapping[str, Any], key: str, where: str, violations: list[dict[str, str]]) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        violations.append({"path": where, "message": f"an integer from 0 to {_MAX_COUNT} is required"})
        return 0
    return value


def _instant(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 40 or not re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def read_status(body: Any) -> dict[str, Any]:
    """The report as columns, or ``schema_invalid`` naming every violation (never the values)."""
    if not isinstance(body, dict):
        raise ApiError("schema_invalid", details={"violations": [{"path": "", "message": "an object is required"}]})
    violations: list[dict[str, str]] = []
    known = {"pending_photos", "pending_sequences", "oldest_pending_at", "sync_state", "progress", "last_error_code"}
    for key in sorted(set(body) - known):
        violations.append({"path": f"/{key}", "message": "unknown property"})
    photos = _count(body, "pending_photos", "/pending_photos", violations)
    sequences = _count(body, "pending_sequences", "/pending_sequences", violations)
    oldest = body.get("oldest_pending_at")
    if oldest is not None and not _instant(oldest):
        violations.append({"path": "/oldest_pending_at", "message": "an RFC 3339 date-time or null is required"})
    if photos and oldest is None and "pending_photos" in body:
        violations.append({"path": "/oldest_pending_at", "message": "required when photos are pending"})
    if not photos and oldest is not None:
        violations.append({"path": "/oldest_pending_at", "message": "must be null when no photo is pending"})
    state = body.get("sync_state")
    if state not in SYNC_STATES:
        violations.append({"path": "/sync_state", "message": "one of " + ", ".join(SYNC_STATES) + " is required"})
    done = total = None
    progress = body.get("progress")
    if progress is not None:
        if not isinstance(progress, dict) or set(progress) != {"done", "total"}:
            violations.append({"path": "/progress", "message": "an object with done and total, or null, is required"})
        else:
            done = _count(progress, "done", "/progress/done", violations)
            total = _count(progress, "total", "/progress/total", violations)
            if done > total:
                violations.append({"path": "/progress/done", "message": "must not exceed total"})
    code = body.get("last_error_code")
    if code is not None and (not isinstance(code, str) or not _CODE.match(code)):
        violations.append({"path": "/last_error_code", "message": "a lowercase error code or null is required"})
    if state == "error" and code is None:
        violations.append({"path": "/last_error_code", "message": "required when sync_state is error"})
    if violations:
        raise ApiError("schema_invalid", details={"violations": violations})
    return {"pending_photos": photos, "pending_sequences": sequences, "oldest_pending_at": oldest, "sync_state": state,
            "progress_done": done, "progress_total": total, "last_error_code": code}


async def report_status(request: Request) -> Response:
    """The calling phone's report: what it holds (counts, oldest photo), sync state, progress, last error code.

    Body: ``{pending_photos, pending_sequences, oldest_pending_at, sync_state: idle|syncing|error,
    progress: {done, total} | null, last_error_code}``. Answers ``{"sync_requested": bool}``.
    """
    who = await device(request)
    status = read_status(await json_body(request))
    store = services(request).store
    row = await store.fetch_one("SELECT * FROM device_status WHERE device_id = :d", {"d": who.device_id})
    changed = row is None or any(row[k] != status[k] for k in _FIELDS)
    requested = row is not None and row["sync_requested_at"] is not None
    clear = requested and status["sync_state"] == "syncing"
    if changed or clear:
        values = {**status, "d": who.device_id, "t": now_iso()}
        async with store.write() as db:
            # read again under the write lock: two reports of one phone must not both insert
            row = await db.fetch_one("SELECT * FROM device_status WHERE device_id = :d", {"d": who.device_id})
            requested = row is not None and row["sync_requested_at"] is not None
            clear = requested and status["sync_state"] == "syncing"
            if row is None:
                await db.execute(
                    "INSERT INTO device_status (device_id, reported_at, " + ", ".join(_FIELDS) + ") VALUES (:d, :t, "
                    + ", ".join(f":{k}" for k in _FIELDS) + ")", values)
            else:
                await db.execute(
                    "UPDATE device_status SET reported_at = :t, " + ", ".join(f"{k} = :{k}" for k in _FIELDS)
                    + (", sync_requested_at = NULL, sync_requested_by = NULL" if clear else "")
                    + " WHERE device_id = :d", values)
            if row is None or row["sync_state"] != status["sync_state"]:
                action = _TRANSITIONS[status["sync_state"]] if row is not None else "device.status.first"
                await append(db, AuditEvent(
                    action=action, actor=who.actor, device_id=who.device_id, object=f"device:{who.device_id}",
                    address=request.client.host if request.client else None,
                    detail={k: status[k] for k in ("pending_photos", "pending_sequences", "progress_done",
                                                    "progress_total", "last_error_code")}
                    | ({"on_request": True} if clear else {})))
                return json({"sync_requested": requested and not clear})
    await audit_answer(request, "device.status", object=f"device:{who.device_id}", polled_every=600)
    return json({"sync_requested": requested and not clear})




async def request_sync(request: Request) -> Response:
    """Ask a phone to sync now (nurse, administrator): it starts at its next contact, within seconds."""
    device_id = request.path_params["device_id"]
    if not is_uuid(device_id):
        raise ApiError("invalid_id")
    who = request.state.principal
    async with services(request).store.write() as db:
        found = await db.fetch_one("SELECT id FROM device WHERE id = :d AND revoked_at IS NULL", {"d": device_id})
        if found is None:
            raise ApiError("device_not_found")
        now = now_iso()
        if await db.fetch_one("SELECT device_id FROM device_status WHERE device_id = :d", {"d": device_id}) is None:
            await db.execute("INSERT INTO device_status (device_id, sync_requested_at, sync_requested_by) "
                             "VALUES (:d, :t, :a)", {"d": device_id, "t": now, "a": who.actor})
        else:
            await db.execute("UPDATE device_status SET sync_requested_at = :t, sync_requested_by = :a "
                             "WHERE device_id = :d", {"d": device_id, "t": now, "a": who.actor})
        await append(db, AuditEvent(action="station.sync_request", actor=who.actor, device_id=device_id,
                                    object=f"device:{device_id}",
                                    address=request.client.host if request.client else None))
    return json({"device_id": device_id, "sync_requested_at": now}, status_code=202)


async def statuses(store: Any) -> dict[str, dict[str, Any]]:
    """The latest report of every device, by device id, as the station shows it."""
    rows = await store.fetch_all("SELECT * FROM device_status")
    return {r["device_id"]: {
        "status_at": r["reported_at"],
        "pending_photos": r["pending_photos"] if r["reported_at"] else None,
        "pending_sequences": r["pending_sequences"] if r["reported_at"] else None,
        "oldest_pending_at": r["oldest_pending_at"],
        "sync_state": r["sync_state"] if r["reported_at"] else None,
        "progress": ({"done": r["progress_done"], "total": r["progress_total"]}
                     if r["progress_total"] is not None else None),
        "last_error_code": r["last_error_code"],
        "sync_requested_at": r["sync_requested_at"],
    } for r in rows}


EMPTY_STATUS: dict[str, Any] = {"status_at": None, "pending_photos": None, "pending_sequences": None,
                                "oldest_pending_at": None, "sync_state": None, "progress": None,
                                "last_error_code": None, "sync_requested_at": None}
