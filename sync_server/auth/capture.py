"""Who may capture on a phone, and whether a photo's person still may (issue 11, point 4).

A person is added to a phone while it is online by signing in on it with their own server passkey:
the device calls ``/api/v1/devices/me/people/begin`` and ``/api/v1/devices/me/people`` with its
bearer credential and the person's WebAuthn assertion, which the server verifies as it does a web
sign-in (user verification required, sign count stored). Only an active person holding a capture
role (``CAPTURE_ROLES``) can be added. The phone then wraps its vault key under that person's own
PIN or passkey PRF (``pwa/src/crypto/keywrap.ts``) and names the person in every sequence it opens
and photo it takes.

When a photo is filed, its person is checked again here: known, added to this device and not
removed, not revoked, still holding a capture role. A photo that fails is never dropped: it is
filed, quarantined with the code (kept bit-exact, never served) and audited, and the receipt names
it so the phone can let go of its copy.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..audit.log import AuditEvent, append
from ..clock import iso, utc_now
from ..db import Db
from ..errors import ApiError
from ..settings import Settings
from ..types import is_uuid
from . import people
from .permissions import CAPTURE_ROLES

PURPOSE = "device-person"  # the WebAuthn challenge purpose: a web sign-in's challenge does not fit here


def may_capture(roles: str | frozenset[str] | list[str]) -> bool:
    held = set(roles.split()) if isinstance(roles, str) else set(roles)
    return bool(held & set(CAPTURE_ROLES))


def _public(person: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": person["id"], "name": person["name"], "roles": person["roles"].split()}


async def begin(store: Db, settings: Settings) -> dict[str, Any]:
    """WebAuthn request options for the person about to be added to a phone."""
    return await people.signin_begin(store, settings, purpose=PURPOSE)


async def add(store: Db, settings: Settings, device_id: str, challenge_id: object, credential: object,
              address: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Verify the person's assertion and add them to the device: (person, None) or (None, problem: the
    caller refuses it with ``ApiError(problem["code"]).audited_as(...)``, ``refusals.py`` writes it)."""
    async with store.write() as db:
        person, key, problem = await people.verify_assertion(db, settings, challenge_id, credential, PURPOSE)
        if person is not None and key is not None and not may_capture(person["roles"]):
            problem = {"code": "person_cannot_capture", "person": person["id"]}
        if problem is not None:
            return None, problem
        assert person is not None and key is not None
        now = iso(utc_now())
        existing = await db.fetch_one("SELECT 1 AS x FROM device_person WHERE device_id = :d AND person_id = :p",
                                      {"d": device_id, "p": person["id"]})
        if existing is None:
            await db.execute(
                "INSERT INTO device_person (device_id, person_id, credential_id, added_at) VALUES (:d, :p, :c, :t)",
                {"d": device_id, "p": person["id"], "c": key["credential_id"], "t": now})
        else:
            await db.execute(
                "UPDATE device_person SET credential_id = :c, added_at = :t, removed_at = NULL "
                "WHERE device_id = :d AND person_id = :p",
                {"d": device_id, "p": person["id"], "c": key["credential_id"], "t": now})
        await append(db, AuditEvent(
            action="device.person.add", actor=f"user:{person['id']}", device_id=device_id, address=address,
            object=f"person:{person['id']}",
            detail={"person_name": person["name"], "passkey": key["credential_id"],
                    "user_verified": key["user_verified"], "again": existing is not None}))
    return {**_public(person), "credential_id": key["credential_id"], "added_at": now}, None


async def listed(store: Db, device_id: str) -> list[dict[str, Any]]:
    """The people added to this device (not removed), by name, each with whether they may capture now."""
    rows = await store.fetch_all(
        "SELECT p.id, p.name, p.roles, p.revoked_at, dp.added_at, dp.credential_id FROM device_person dp "
        "JOIN person p ON p.id = dp.person_id WHERE dp.device_id = :d AND dp.removed_at IS NULL "
        "ORDER BY p.name, p.id", {"d": device_id})
    return [{**_public(r), "added_at": r["added_at"], "credential_id": r["credential_id"],
             "state": "revoked" if r["revoked_at"] is not None
             else "active" if may_capture(r["roles"]) else "cannot_capture"} for r in rows]


async def remove(store: Db, device_id: str, person_id: str, address: str | None) -> None:
    """Take a person off this device: photos they take there afterwards are quarantined."""
    if not is_uuid(person_id):
        raise ApiError("invalid_id")
    async with store.write() as db:
        row = await db.fetch_one("SELECT removed_at FROM device_person WHERE device_id = :d AND person_id = :p",
                                 {"d": device_id, "p": person_id})
        if row is None or row["removed_at"] is not None:
            raise ApiError("person_not_found")
        await db.execute("UPDATE device_person SET removed_at = :t WHERE device_id = :d AND person_id = :p",
                         {"t": iso(utc_now()), "d": device_id, "p": person_id})
        await append(db, AuditEvent(action="device.person.remove", actor=f"device:{device_id}", device_id=device_id,
                                    address=address, object=f"person:{person_id}"))


async def check(db: Any, device_id: str, person_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """May this person's photo from this device be filed as theirs? (person or None, None or refusal code)."""
    row = await db.fetch_one(
        "SELECT p.id, p.name, p.roles, p.revoked_at, dp.removed_at, dp.device_id FROM person p "
        "LEFT JOIN device_person dp ON dp.person_id = p.id AND dp.device_id = :d WHERE p.id = :p",
        {"d": device_id, "p": person_id})
    if row is None:
        return None, "person_unknown"
    person = {"id": row["id"], "name": row["name"]}
    if row["revoked_at"] is not None:
        return person, "person_revoked"
    if row["device_id"] is None or row["removed_at"] is not None:
        return person, "person_not_on_device"
    if not may_capture(row["roles"]):
        return person, "person_cannot_capture"
    return person, None
