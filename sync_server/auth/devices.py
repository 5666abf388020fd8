"""Device enrolment, credentials and revocation.

A one-time code (short expiry) is exchanged once for a bearer credential
``cpd_<device_id>_<secret>``. The server keeps only SHA-256 of codes and secrets: both carry
at least 60 bits (codes) and 256 bits (secrets) of entropy and codes expire within minutes, so a
slow password hash would add nothing but latency on every sync call.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from ..audit.log import MINOR_FAILURE, AuditEvent, append
from ..db import Db
from ..errors import ApiError
from ..types import Principal, is_uuid

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return "-".join(cleaned[i:i + 4] for i in range(0, len(cleaned), 4))


async def create_enrollment_code(store: Db, label: str, ttl_seconds: int, actor: str = "cli:admin") -> tuple[str, datetime]:
    code = "-".join(
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(3)
    )
    now = _now()
    expires = now + timedelta(seconds=ttl_seconds)
    async with store.write() as db:
        await db.execute(
            "INSERT INTO enrollment_code (code_hash, label, created_at, expires_at) "
            "VALUES (:h, :label, :created, :expires)",
            {"h": _sha256(code), "label": label, "created": _iso(now), "expires": _iso(expires)},
        )
        await append(db, AuditEvent(action="device.enrollment_code.create", actor=actor,
                                    detail={"label": label, "expires_at": _iso(expires)}))
    return code, expires


async def enroll(store: Db, code: str, label: str | None, address: str | None) -> tuple[str, str]:
    """Exchange a one-time code for (device_id, credential). Refusals are audited."""
    normalised = normalise_code(code) if isinstance(code, str) else ""
    code_hash = _sha256(normalised)
    now = _now()
    async with store.write() as db:
        row = await db.fetch_one("SELECT * FROM enrollment_code WHERE code_hash = :h", {"h": code_hash})
        problem = None
        if row is None:
            problem = "unknown"
        elif row["used_at"] is not None:
            problem = "already_used"
        elif row["expires_at"] < _iso(now):
            problem = "expired"
        if problem is not None:
            await append(db, AuditEvent(action="device.enroll", outcome=MINOR_FAILURE, actor="anonymous",
                                        address=address, detail={"code": "enrollment_code_invalid", "reason": problem}))
        else:
            device_id = str(uuid.uuid4())
            secret = secrets.token_urlsafe(32)
            credential = f"cpd_{device_id}_{secret}"
            device_label = (label or row["label"])[:120]
            await db.execute(
                "INSERT INTO device (id, label, credential_hash, enrolled_at) VALUES (:id, :label, :h, :t)",
                {"id": device_id, "label": device_label, "h": _sha256(secret), "t": _iso(now)},
            )
            await db.execute(
                "UPDATE enrollment_code SET used_at = :t, device_id = :d WHERE code_hash = :h",
                {"t": _iso(now), "d": device_id, "h": code_hash},
            )
            await append(db, AuditEvent(action="device.enroll", actor=f"device:{device_id}", device_id=device_id,
                                        address=address, detail={"label": device_label}))
            return device_id, credential
    error = ApiError("enrollment_code_invalid")
    error.audited = True
    raise error


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
    if row is None or not hmac.compare_digest(row["credential_hash"], _sha256(parsed[1])):  # type: ignore[index]
        async with store.write() as db:
            await append(db, AuditEvent(action="device.authenticate", outcome=MINOR_FAILURE, actor="anonymous",
                                        address=address, object=path,
                                        detail={"code": "device_unauthenticated",
                                                "reason": "missing" if authorization is None else "invalid"}))
        error = ApiError("device_unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="clinphoto"'})
        error.audited = True
        raise error
    device_id = row["id"]
    if row["revoked_at"] is not None:
        async with store.write() as db:
            await append(db, AuditEvent(action="device.authenticate", outcome=MINOR_FAILURE,
                                        actor=f"device:{device_id}", device_id=device_id, address=address,
                                        object=path, detail={"code": "device_revoked"}))
        error = ApiError("device_revoked", headers={"Clear-Site-Data": '"storage"',
                                                    "WWW-Authenticate": 'Bearer realm="clinphoto"'})
        error.audited = True
        raise error
    await _touch(store, device_id)
    return Principal(kind="device", id=device_id, device_id=device_id)


_LAST_SEEN_EVERY = timedelta(seconds=30)
_last_seen: dict[str, datetime] = {}


async def _touch(store: Db, device_id: str) -> None:
    """Record last contact, at most every 30 s per device: not a durable write on every request."""
    now = _now()
    if now - _last_seen.get(device_id, datetime.min.replace(tzinfo=timezone.utc)) < _LAST_SEEN_EVERY:
        return
    _last_seen[device_id] = now
    async with store.write() as db:
        await db.execute("UPDATE device SET last_seen_at = :t WHERE id = :id", {"t": _iso(now), "id": device_id})


async def revoke(store: Db, device_id: str, actor: str = "cli:admin") -> bool:
    async with store.write() as db:
        row = await db.fetch_one("SELECT revoked_at FROM device WHERE id = :id", {"id": device_id})
        if row is None:
            return False
        if row["revoked_at"] is None:
            await db.execute("UPDATE device SET revoked_at = :t WHERE id = :id", {"t": _iso(_now()), "id": device_id})
        await append(db, AuditEvent(action="device.revoke", actor=actor, device_id=device_id))
    return True


async def list_devices(store: Db) -> list[dict]:
    return await store.fetch_all(
        "SELECT id, label, enrolled_at, revoked_at, last_seen_at FROM device ORDER BY enrolled_at")


async def has_devices(store: Db) -> bool:
    return bool(await store.fetch_val("SELECT COUNT(*) FROM device"))
