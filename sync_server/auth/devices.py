"""Device enrolment, credentials and revocation.

A one-time code (short expiry) is exchanged for a bearer credential ``cpd_<device_id>_<secret>`` in
two steps, so that a lost answer never leaves an orphan device and a burnt code:

1. ``enroll``: the code answers a device id and credential, kept *pending* on the code. The code is
   not used up. A retry with the same code before confirmation gets a fresh answer that replaces the
   pending one (the earlier credential stops working): never two devices from one code.
2. ``confirm``: the device calls back with the new credential, proving it stored it. Only then is the
   code used up and the device created. Confirming again (the answer was lost) answers the same.

A pending answer is never a device: it dies with its code, and sync refuses it
(``device_enrollment_unconfirmed``). The server keeps only SHA-256 of codes and secrets: both carry
at least 60 bits (codes) and 256 bits (secrets) of entropy and codes expire within minutes, so a
slow password hash would add nothing but latency on every sync call.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from ..audit.log import AuditEvent, append
from ..db import Db
from ..errors import ApiError
from ..types import Principal, is_uuid
from ..clock import iso, utc_now

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()




def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return "-".join(cleaned[i:i + 4] for i in range(0, len(cleaned), 4))


async def create_enrollment_code(store: Db, label: str, ttl_seconds: int, actor: str = "cli:admin") -> tuple[str, datetime]:
    code = "-".join(
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(3)
    )
    now = utc_now()
    expires = now + timedelta(seconds=ttl_seconds)
    async with store.write() as db:
        await db.execute(
            "INSERT INTO enrollment_code (code_hash, label, created_at, expires_at) "
            "VALUES (:h, :label, :created, :expires)",
            {"h": _sha256(code), "label": label, "created": iso(now), "expires": iso(expires)},
        )
        await append(db, AuditEvent(action="device.enrollment_code.create", actor=actor,
                                    detail={"label": label, "expires_at": iso(expires)}))
    return code, expires


def _refused(code: str, event: AuditEvent, **headers: str) -> ApiError:
    return ApiError(code, headers=headers or None).audited_as(event)


async def enroll(store: Db, code: str, label: str | None, address: str | None) -> tuple[str, str]:
    """Answer a pending (device_id, credential) for a one-time code; ``confirm`` makes it a device.

    The code stays usable until confirmation: a retry replaces the pending answer. Refusals are audited.
    """
    normalised = normalise_code(code) if isinstance(code, str) else ""
    code_hash = _sha256(normalised)
    now = utc_now()
    async with store.write() as db:
        row = await db.fetch_one("SELECT * FROM enrollment_code WHERE code_hash = :h", {"h": code_hash})
        problem = None
        if row is None:
            problem = "unknown"
        elif row["used_at"] is not None:
            problem = "already_used"
        elif row["expires_at"] < iso(now):
            problem = "expired"
        if problem is None:
            device_id = str(uuid.uuid4())
            secret = secrets.token_urlsafe(32)
            credential = f"cpd_{device_id}_{secret}"
            device_label = (label or row["label"])[:120]
            superseded = row["pending_device_id"]
            await db.execute(
                "UPDATE enrollment_code SET pending_device_id = :d, pending_credential_hash = :c, "
                "pending_label = :label, pending_at = :t, answers = answers + 1 WHERE code_hash = :h",
                {"d": device_id, "c": _sha256(secret), "label": device_label, "t": iso(now), "h": code_hash},
            )
            detail: dict[str, object] = {"label": device_label, "state": "pending", "expires_at": row["expires_at"]}
            if superseded:
                detail["supersedes"] = superseded
            await append(db, AuditEvent(action="device.enroll", actor=f"device:{device_id}", device_id=device_id,
                                        address=address, detail=detail))
            return device_id, credential
    raise _refused("enrollment_code_invalid", AuditEvent(action="device.enroll", actor="anonymous", address=address,
                                                         detail={"reason": problem}))


async def confirm(store: Db, authorization: str | None, address: str | None) -> dict[str, str]:
    """The device proves it stored its credential: the code is used up and the device exists.

    Idempotent: a device that confirms again (the first answer was lost) gets the same answer.
    """
    parsed = parse_credential(authorization)
    device_id, secret_hash = (parsed[0], _sha256(parsed[1])) if parsed is not None else ("", "")
    now = utc_now()
    async with store.write() as db:
        pending = await db.fetch_one(
            "SELECT * FROM enrollment_code WHERE pending_device_id = :d AND used_at IS NULL", {"d": device_id})
        if pending is not None and not (pending["pending_credential_hash"] and
                                        hmac.compare_digest(pending["pending_credential_hash"], secret_hash)):
            pending = None  # superseded by a retry, or not this credential
        device = await db.fetch_one(
            "SELECT id, label, enrolled_at, credential_hash, revoked_at FROM device WHERE id = :d", {"d": device_id})
        if device is not None and not hmac.compare_digest(device["credential_hash"], secret_hash):
            device = None
        actor = f"device:{device_id}"
        if pending is not None and pending["expires_at"] >= iso(now):
            await db.execute(
                "INSERT INTO device (id, label, credential_hash, enrolled_at) VALUES (:id, :label, :h, :t)",
                {"id": device_id, "label": pending["pending_label"], "h": secret_hash, "t": iso(now)},
            )
            await db.execute(
                "UPDATE enrollment_code SET used_at = :t, device_id = :d, pending_credential_hash = NULL "
                "WHERE code_hash = :h", {"t": iso(now), "d": device_id, "h": pending["code_hash"]},
            )
            await append(db, AuditEvent(action="device.enroll.confirm", actor=actor, device_id=device_id,
                                        address=address,
                                        detail={"label": pending["pending_label"], "answers": pending["answers"]}))
            return {"device_id": device_id, "label": pending["pending_label"], "enrolled_at": iso(now)}
        if device is not None and device["revoked_at"] is None:
            await append(db, AuditEvent(action="device.enroll.confirm", actor=actor, device_id=device_id,
                                        address=address, detail={"again": True}))
            return {"device_id": device_id, "label": device["label"], "enrolled_at": device["enrolled_at"]}
        if pending is not None:
            code, detail = "enrollment_code_invalid", {"code": "enrollment_code_invalid", "reason": "expired"}
        elif device is not None:
            code, detail = "device_revoked", {"code": "device_revoked"}
        else:
            actor = "anonymous"
            code, detail = "device_unauthenticated", {
                "code": "device_unauthenticated",
                "reason": "missing" if authorization is None else "superseded_or_unknown"}
    # refused outside the transaction (refusals.py writes its audit entry)
    event = AuditEvent(action="device.enroll.confirm", actor=actor, address=address, detail=detail)
    if code == "device_revoked":
        raise _refused(code, event, **{"Clear-Site-Data": '"storage"', "WWW-Authenticate": 'Bearer realm="clinphoto"'})
    if code == "device_unauthenticated":
        raise _refused(code, event, **{"WWW-Authenticate": 'Bearer realm="clinphoto"'})
    raise _refused(code, event)


def parse_credential(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cpd" or not is_uuid(parts[1]) or not parts[2]:
        return None
    return parts[1], parts[2]


async def authenticate(store: Db, authorization: str | None, address: str | None, path: str) -> Principal:
    """The calling device, or an audited 401 (revoked devices are told to wipe)."""
    parsed = parse_credential(authorization)
    row = None
    if parsed is not None:
        row = await store.fetch_one("SELECT id, credential_hash, revoked_at FROM device WHERE id = :id",
                                    {"id": parsed[0]})
    if row is None and parsed is not None and await _is_pending(store, parsed):
        raise _refused("device_enrollment_unconfirmed", AuditEvent(
            action="device.authenticate", actor=f"device:{parsed[0]}", address=address, object=path))
    if row is None or not hmac.compare_digest(row["credential_hash"], _sha256(parsed[1])):  # type: ignore[index]
        raise _refused("device_unauthenticated", AuditEvent(
            action="device.authenticate", actor="anonymous", address=address, object=path,
            detail={"reason": "missing" if authorization is None else "invalid"}),
            **{"WWW-Authenticate": 'Bearer realm="clinphoto"'})
    device_id = row["id"]
    if row["revoked_at"] is not None:
        raise _refused("device_revoked", AuditEvent(
            action="device.authenticate", actor=f"device:{device_id}", device_id=device_id, address=address,
            object=path), **{"Clear-Site-Data": '"storage"', "WWW-Authenticate": 'Bearer realm="clinphoto"'})
    await _touch(store, device_id)
    return Principal(kind="device", id=device_id, device_id=device_id)


async def _is_pending(store: Db, parsed: tuple[str, str]) -> bool:
    """A live, unconfirmed enrolment answer holds this credential."""
    row = await store.fetch_one(
        "SELECT pending_credential_hash FROM enrollment_code WHERE pending_device_id = :d AND used_at IS NULL "
        "AND expires_at >= :t", {"d": parsed[0], "t": iso(utc_now())})
    return row is not None and bool(row["pending_credential_hash"]) and \
        hmac.compare_digest(row["pending_credential_hash"], _sha256(parsed[1]))


_LAST_SEEN_EVERY = timedelta(seconds=30)
_last_seen: dict[str, datetime] = {}


async def _touch(store: Db, device_id: str) -> None:
    """Record last contact, at most every 30 s per device: not a durable write on every request."""
    now = utc_now()
    if now - _last_seen.get(device_id, datetime.min.replace(tzinfo=timezone.utc)) < _LAST_SEEN_EVERY:
        return
    _last_seen[device_id] = now
    async with store.write() as db:
        await db.execute("UPDATE device SET last_seen_at = :t WHERE id = :id", {"t": iso(now), "id": device_id})


async def revoke(store: Db, device_id: str, actor: str = "cli:admin") -> bool:
    async with store.write() as db:
        row = await db.fetch_one("SELECT revoked_at FROM device WHERE id = :id", {"id": device_id})
        if row is None:
            return False
        if row["revoked_at"] is None:
            await db.execute("UPDATE device SET revoked_at = :t WHERE id = :id", {"t": iso(utc_now()), "id": device_id})
        await append(db, AuditEvent(action="device.revoke", actor=actor, device_id=device_id))
    return True


async def set_department(store: Db, kind: str, subject_id: str, department: str, actor: str = "cli:admin") -> bool:
    """The department a phone serves (``kind`` "device") or a person works in ("person"): the list of today's
    patients comes from the person's, else the phone's. False when there is no such phone or person. Audited."""
    table = {"device": "device", "person": "person"}[kind]  # never a name from outside
    async with store.write() as db:
        if await db.fetch_one(f"SELECT id FROM {table} WHERE id = :id", {"id": subject_id}) is None:
            return False
        await db.execute(f"UPDATE {table} SET department = :d WHERE id = :id", {"d": department, "id": subject_id})
        await append(db, AuditEvent(action=f"{kind}.department", actor=actor, object=f"{kind}:{subject_id}",
                                    device_id=subject_id if kind == "device" else None,
                                    detail={"department": department}))
    return True


async def list_devices(store: Db) -> list[dict]:
    return await store.fetch_all(
        "SELECT id, label, enrolled_at, revoked_at, last_seen_at, department FROM device ORDER BY enrolled_at")


async def list_pending(store: Db) -> list[dict]:
    """Enrolment answers given and not yet confirmed, still inside their code's lifetime: not devices."""
    return await store.fetch_all(
        "SELECT pending_device_id AS id, pending_label AS label, pending_at, expires_at, answers "
        "FROM enrollment_code WHERE pending_device_id IS NOT NULL AND used_at IS NULL AND expires_at >= :t "
        "ORDER BY pending_at", {"t": iso(utc_now())})


async def has_devices(store: Db) -> bool:
    return bool(await store.fetch_val("SELECT COUNT(*) FROM device"))
