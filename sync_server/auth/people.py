"""People, invitations and passkeys (WebAuthn, py_webauthn). No passwords anywhere.

A person is created by an invitation: an administrator (or ``clinphoto serve`` / ``create-admin``)
names them and their roles and gets a one-time registration link. Opening it registers a passkey
(user verification required, attestation "none": hospitals buy ordinary phones and keys). A
person may hold several passkeys and remove any but the last. Sign-in is usernameless
(discoverable credentials); each assertion's sign count must go up, and is stored.

Every challenge is stored server-side and consumed by its first use, whatever the outcome, so a
replayed response always meets an unknown challenge. Failures are audited, then raised: the
audit entry is written in a transaction that commits, never rolled back with the error.
"""
from __future__ import annotations

import ipaddress
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..audit.log import AuditEvent, append
from ..db import Db, Writer
from ..errors import ApiError
from ..settings import Settings
from ..clock import iso, utc_now
from .devices import _sha256
from .permissions import ROLES

CHALLENGE_TTL = timedelta(minutes=5)
RP_NAME = "ClinPhoto"


# -- where people reach us -------------------------------------------------------------------

def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def web_origins(settings: Settings) -> list[str]:
    """Origins a person's browser may show: the public URL and, for a loopback IP, ``localhost``."""
    parts = urlsplit(settings.resolved_public_url)
    origins = [f"{parts.scheme}://{parts.netloc}"]
    host = parts.hostname or ""
    if _is_ip(host) and ipaddress.ip_address(host).is_loopback:
        origins.append(f"{parts.scheme}://localhost" + (f":{parts.port}" if parts.port else ""))
    return origins


def rp_id(settings: Settings) -> str:
    if settings.rp_id:
        return settings.rp_id
    host = urlsplit(settings.resolved_public_url).hostname or "localhost"
    return "localhost" if _is_ip(host) and ipaddress.ip_address(host).is_loopback else host


def people_origin(settings: Settings) -> str:
    """The origin printed in links: the one where passkeys work (never a bare IP address)."""
    return web_origins(settings)[-1]


def registration_link(settings: Settings, token: str) -> str:
    return f"{people_origin(settings)}/#/register/{token}"


# -- people and invitations ------------------------------------------------------------------

def check_roles(roles: object) -> list[str]:
    if not isinstance(roles, list) or not roles or not all(r in ROLES for r in roles):
        raise ApiError("schema_invalid", details={"violations": [
            {"path": "/roles", "message": f"roles: a non-empty list from {', '.join(ROLES)}"}]})
    return sorted(set(roles))


def _row_roles(row: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(row["roles"].split())


async def _new_invitation(db: Writer, person_id: str, actor: str, ttl_seconds: int) -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    now = utc_now()
    expires = iso(now + timedelta(seconds=ttl_seconds))
    # one live link per person: issuing a new one ends the previous ones
    await db.execute("UPDATE invitation SET used_at = :t WHERE person_id = :p AND used_at IS NULL",
                     {"t": iso(now), "p": person_id})
    await db.execute(
        "INSERT INTO invitation (token_hash, person_id, created_at, created_by, expires_at) "
        "VALUES (:h, :p, :t, :by, :e)",
        {"h": _sha256(token), "p": person_id, "t": iso(now), "by": actor, "e": expires})
    await append(db, AuditEvent(action="person.invite", actor=actor, object=f"person:{person_id}",
                                detail={"expires_at": expires}))
    return token, expires


async def invite(store: Db, name: str, roles: list[str], actor: str, ttl_seconds: int) -> tuple[str, str, str]:
    """Create a person and their one-time registration link: (person_id, token, expires_at)."""
    person_id = str(uuid.uuid4())
    async with store.write() as db:
        await db.execute(
            "INSERT INTO person (id, name, roles, user_handle, created_at, created_by) "
            "VALUES (:id, :name, :roles, :handle, :t, :by)",
            {"id": person_id, "name": name[:120], "roles": " ".join(sorted(set(roles))),
             "handle": bytes_to_base64url(secrets.token_bytes(32)), "t": iso(utc_now()), "by": actor})
        await append(db, AuditEvent(action="person.create", actor=actor, object=f"person:{person_id}",
                                    detail={"roles": sorted(set(roles))}))
        token, expires = await _new_invitation(db, person_id, actor, ttl_seconds)
    return person_id, token, expires


async def reinvite(store: Db, person_id: str, actor: str, ttl_seconds: int) -> tuple[str, str]:
    async with store.write() as db:
        row = await db.fetch_one("SELECT revoked_at FROM person WHERE id = :id", {"id": person_id})
        if row is None or row["revoked_at"] is not None:
            raise ApiError("person_not_found")
        return await _new_invitation(db, person_id, actor, ttl_seconds)


_ADMINISTRATORS_WHO_SIGN_IN = (
    "SELECT COUNT(*) FROM person p WHERE p.revoked_at IS NULL AND (' ' || p.roles || ' ') LIKE :pattern "
    "AND EXISTS (SELECT 1 FROM passkey k WHERE k.person_id = p.id)")


async def has_administrator(store: Db) -> bool:
    """Is there an administrator who can sign in (active, with at least one passkey)?"""
    return bool(await store.fetch_val(_ADMINISTRATORS_WHO_SIGN_IN, {"pattern": "% administrator %"}))


async def _signs_in_as_administrator(db: Writer, person_id: str) -> bool:
    return bool(await db.fetch_val(_ADMINISTRATORS_WHO_SIGN_IN + " AND p.id = :id",
                                   {"pattern": "% administrator %", "id": person_id}))


async def first_admin_link(store: Db, settings: Settings, actor: str = "system:first-start") -> tuple[str, str]:
    """A registration link for the first administrator, reusing the one not yet registered."""
    pending = await store.fetch_one(
        "SELECT p.id FROM person p WHERE p.revoked_at IS NULL AND p.created_by = :by "
        "AND NOT EXISTS (SELECT 1 FROM passkey k WHERE k.person_id = p.id) ORDER BY p.created_at LIMIT 1",
        {"by": actor})
    if pending is not None:
        token, expires = await reinvite(store, pending["id"], actor, settings.invitation_ttl_seconds)
    else:
        _, token, expires = await invite(store, "Administrator", ["administrator"], actor,
                                         settings.invitation_ttl_seconds)
    return registration_link(settings, token), expires


async def list_people(store: Db) -> list[dict[str, Any]]:
    rows = await store.fetch_all(
        "SELECT p.id, p.name, p.roles, p.created_at, p.revoked_at, "
        "(SELECT COUNT(*) FROM passkey k WHERE k.person_id = p.id) AS passkeys, "
        "(SELECT MAX(i.expires_at) FROM invitation i WHERE i.person_id = p.id AND i.used_at IS NULL) AS invitation_expires_at "
        "FROM person p ORDER BY p.created_at")
    return [{**r, "roles": r["roles"].split()} for r in rows]


async def revoke_person(store: Db, person_id: str, actor: str) -> None:
    """Cut a person off at once: every session ends, every pending link dies, passkeys stop working."""
    now = iso(utc_now())
    async with store.write() as db:
        row = await db.fetch_one("SELECT revoked_at FROM person WHERE id = :id", {"id": person_id})
        if row is None:
            raise ApiError("person_not_found")
        if row["revoked_at"] is None and await _signs_in_as_administrator(db, person_id) and not await db.fetch_val(
                _ADMINISTRATORS_WHO_SIGN_IN + " AND p.id <> :id", {"pattern": "% administrator %", "id": person_id}):
            raise ApiError("last_administrator")  # else the hospital is locked out of its own server
        await db.execute("UPDATE person SET revoked_at = COALESCE(revoked_at, :t) WHERE id = :id",
                         {"t": now, "id": person_id})
        await db.execute("UPDATE web_session SET revoked_at = :t WHERE person_id = :p AND revoked_at IS NULL",
                         {"t": now, "p": person_id})
        await db.execute("UPDATE invitation SET used_at = :t WHERE person_id = :p AND used_at IS NULL",
                         {"t": now, "p": person_id})
        await append(db, AuditEvent(action="person.revoke", actor=actor, object=f"person:{person_id}"))


# -- WebAuthn ceremonies ---------------------------------------------------------------------

async def _store_challenge(store: Db, challenge: bytes, purpose: str, person_id: str | None = None,
                           invitation_hash: str | None = None) -> str:
    challenge_id = str(uuid.uuid4())
    now = utc_now()
    async with store.write() as db:
        await db.execute("DELETE FROM webauthn_challenge WHERE expires_at < :t", {"t": iso(now)})
        await db.execute(
            "INSERT INTO webauthn_challenge (id, challenge, purpose, person_id, invitation_hash, expires_at) "
            "VALUES (:id, :c, :p, :person, :inv, :e)",
            {"id": challenge_id, "c": bytes_to_base64url(challenge), "p": purpose, "person": person_id,
             "inv": invitation_hash, "e": iso(now + CHALLENGE_TTL)})
    return challenge_id


async def _take_challenge(db: Writer, challenge_id: object, purpose: str) -> Mapping[str, Any] | None:
    if not isinstance(challenge_id, str):
        return None
    row = await db.fetch_one("SELECT * FROM webauthn_challenge WHERE id = :id", {"id": challenge_id})
    if row is None:
        return None
    await db.execute("DELETE FROM webauthn_challenge WHERE id = :id", {"id": challenge_id})
    if row["purpose"] != purpose or row["expires_at"] < iso(utc_now()):
        return None
    return dict(row)


# -- whose ceremony is this? (the sign-in throttle counts per account: endpoints/people.py) ------------

async def person_of_credential(store: Db, credential: Any) -> str | None:
    """The person a sign-in response claims to be, from its credential id (not yet verified)."""
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw_id, str):
        return None
    return await store.fetch_val("SELECT person_id FROM passkey WHERE credential_id = :c", {"c": raw_id})


async def invited_person(store: Db, token: object) -> str | None:
    """The person an open (unused, unexpired, unrevoked) invitation token is for; else None."""
    if not isinstance(token, str) or not token:
        return None
    return await store.fetch_val(
        "SELECT i.person_id FROM invitation i JOIN person p ON p.id = i.person_id WHERE i.token_hash = :h "
        "AND i.used_at IS NULL AND i.expires_at >= :t AND p.revoked_at IS NULL", {"h": _sha256(token), "t": iso(utc_now())})


async def invited_challenge_person(store: Db, challenge_id: object) -> str | None:
    """The person of a pending registration challenge begun from an invitation; else None."""
    if not isinstance(challenge_id, str):
        return None
    return await store.fetch_val(
        "SELECT person_id FROM webauthn_challenge WHERE id = :id AND purpose = 'register' "
        "AND invitation_hash IS NOT NULL AND expires_at >= :t", {"id": challenge_id, "t": iso(utc_now())})


async def registration_begin(store: Db, settings: Settings, *, token: str | None = None,
                             person_id: str | None = None, address: str | None = None) -> dict[str, Any]:
    """Options for registering a passkey: by invitation token, or for a signed-in person."""
    invitation_hash = None
    if token is not None:
        invitation_hash = _sha256(token) if isinstance(token, str) else ""
        row = await store.fetch_one(
            "SELECT i.person_id, i.expires_at, i.used_at, p.revoked_at FROM invitation i "
            "JOIN person p ON p.id = i.person_id WHERE i.token_hash = :h", {"h": invitation_hash})
        if row is None or row["used_at"] is not None or row["expires_at"] < iso(utc_now()) or row["revoked_at"]:
            reason = "unknown" if row is None else "used" if row["used_at"] else "expired_or_revoked"
            raise ApiError("invitation_invalid").audited_as(AuditEvent(
                action="passkey.register", actor="anonymous", address=address, detail={"reason": reason}))
        person_id = row["person_id"]
    person = await store.fetch_one("SELECT * FROM person WHERE id = :id", {"id": person_id})
    assert person is not None
    existing = await store.fetch_all("SELECT credential_id FROM passkey WHERE person_id = :p", {"p": person_id})
    options = generate_registration_options(
        rp_id=rp_id(settings), rp_name=RP_NAME, user_name=person["name"], user_display_name=person["name"],
        user_id=base64url_to_bytes(person["user_handle"]),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(r["credential_id"])) for r in existing],
    )
    challenge_id = await _store_challenge(store, options.challenge, "register", person_id, invitation_hash)
    return {"challenge_id": challenge_id, "options": json.loads(options_to_json(options)),
            "person": {"id": person_id, "name": person["name"], "roles": person["roles"].split()}}


async def registration_finish(store: Db, settings: Settings, challenge_id: object, credential: Any, label: object,
                              address: str | None, signed_in: str | None = None) -> str:
    """Verify a new passkey and store it; returns the person's id.

    Without ``signed_in`` the challenge must come from an invitation (used up here); with it, the
    challenge must be that signed-in person's own: neither path can finish the other's ceremony.
    """
    problem: dict[str, Any] | None = None
    person_id: str | None = None
    actor = f"user:{signed_in}" if signed_in else None
    async with store.write() as db:
        challenge = await _take_challenge(db, challenge_id, "register")
        if challenge is None or (
                challenge["invitation_hash"] is None if signed_in is None
                else (challenge["invitation_hash"] is not None or challenge["person_id"] != signed_in)):
            problem = {"code": "challenge_invalid"}
        else:
            person_id = challenge["person_id"]
            person = await db.fetch_one("SELECT revoked_at FROM person WHERE id = :id", {"id": person_id})
            invitation = None
            if challenge["invitation_hash"] is not None:
                invitation = await db.fetch_one("SELECT * FROM invitation WHERE token_hash = :h",
                                                {"h": challenge["invitation_hash"]})
            if person is None or person["revoked_at"] is not None or (
                    challenge["invitation_hash"] is not None and (invitation is None or invitation["used_at"] is not None)):
                problem = {"code": "invitation_invalid"}
            else:
                try:
                    verified = verify_registration_response(
                        credential=credential, expected_challenge=base64url_to_bytes(challenge["challenge"]),
                        expected_rp_id=rp_id(settings), expected_origin=web_origins(settings),
                        require_user_verification=True)
                except Exception as exc:  # py_webauthn raises several types; all mean "not verified"
                    problem = {"code": "passkey_invalid", "reason": str(exc)[:200]}
                else:
                    credential_id = bytes_to_base64url(verified.credential_id)
                    taken = await db.fetch_one("SELECT person_id FROM passkey WHERE credential_id = :c",
                                               {"c": credential_id})
                    if taken is not None:
                        problem = {"code": "passkey_invalid", "reason": "credential already registered"}
                    else:
                        now = iso(utc_now())
                        await db.execute(
                            "INSERT INTO passkey (credential_id, person_id, public_key, sign_count, label, created_at) "
                            "VALUES (:c, :p, :k, :n, :l, :t)",
                            {"c": credential_id, "p": person_id,
                             "k": bytes_to_base64url(verified.credential_public_key), "n": verified.sign_count,
                             "l": (label if isinstance(label, str) and label.strip() else "passkey")[:80], "t": now})
                        if invitation is not None:
                            await db.execute("UPDATE invitation SET used_at = :t WHERE token_hash = :h",
                                             {"t": now, "h": challenge["invitation_hash"]})
                        await append(db, AuditEvent(
                            action="passkey.register", actor=actor or f"user:{person_id}", address=address,
                            object=f"passkey:{credential_id}",
                            detail={"person": person_id, "via": "invitation" if invitation else "session",
                                    "user_verified": True}))
    if problem is not None:  # refused after the transaction: the challenge stays used up
        raise ApiError(problem["code"]).audited_as(AuditEvent(action="passkey.register", actor=actor or "anonymous",
                                                              address=address, detail=problem))
    assert person_id is not None
    return person_id


async def signin_begin(store: Db, settings: Settings, purpose: str = "signin") -> dict[str, Any]:
    """Usernameless request options; ``purpose`` keeps a web sign-in's challenge apart from a phone's
    (``device-person``: a person added to a phone, ``auth/capture.py``)."""
    options = generate_authentication_options(rp_id=rp_id(settings),
                                              user_verification=UserVerificationRequirement.REQUIRED)
    challenge_id = await _store_challenge(store, options.challenge, purpose)
    return {"challenge_id": challenge_id, "options": json.loads(options_to_json(options))}


async def verify_assertion(db: Writer, settings: Settings, challenge_id: object, credential: Any, purpose: str
                           ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """Inside the caller's write transaction, use up the challenge and verify a passkey assertion:
    (person row, passkey row, None) with the sign count stored, or (None, None, problem). Nothing audited."""
    challenge = await _take_challenge(db, challenge_id, purpose)
    if challenge is None:
        return None, None, {"code": "challenge_invalid"}
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    key = await db.fetch_one("SELECT * FROM passkey WHERE credential_id = :c", {"c": raw_id}) if isinstance(raw_id, str) else None
    if key is None:
        return None, None, {"code": "passkey_invalid", "reason": "unknown credential"}
    person = await db.fetch_one("SELECT * FROM person WHERE id = :id", {"id": key["person_id"]})
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge["challenge"]),
            expected_rp_id=rp_id(settings), expected_origin=web_origins(settings),
            credential_public_key=base64url_to_bytes(key["public_key"]),
            credential_current_sign_count=int(key["sign_count"]), require_user_verification=True)
    except Exception as exc:
        return None, None, {"code": "passkey_invalid", "reason": str(exc)[:200], "person": key["person_id"]}
    if person["revoked_at"] is not None:
        return None, None, {"code": "passkey_invalid", "reason": "person revoked", "person": person["id"]}
    await db.execute("UPDATE passkey SET sign_count = :n, last_used_at = :t WHERE credential_id = :c",
                     {"n": verified.new_sign_count, "t": iso(utc_now()), "c": key["credential_id"]})
    return dict(person), {**dict(key), "sign_count": verified.new_sign_count,
                          "user_verified": verified.user_verified}, None


async def signin_finish(db: Writer, settings: Settings, challenge_id: object, credential: Any,
                        address: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Inside the caller's write transaction: (person row, None) or (None, problem: the caller refuses it
    with ``ApiError(problem["code"]).audited_as(...)``)."""
    person, key, problem = await verify_assertion(db, settings, challenge_id, credential, "signin")
    if person is not None and key is not None:
        await append(db, AuditEvent(action="person.signin", actor=f"user:{person['id']}", address=address,
                                    object=f"passkey:{key['credential_id']}",
                                    detail={"sign_count": key["sign_count"], "user_verified": key["user_verified"]}))
        return person, None
    return None, problem


async def list_passkeys(store: Db, person_id: str) -> list[dict[str, Any]]:
    return await store.fetch_all(
        "SELECT credential_id, label, created_at, last_used_at, sign_count FROM passkey "
        "WHERE person_id = :p ORDER BY created_at", {"p": person_id})


async def remove_passkey(store: Db, person_id: str, credential_id: str, actor: str, address: str | None) -> None:
    async with store.write() as db:
        row = await db.fetch_one("SELECT 1 AS x FROM passkey WHERE credential_id = :c AND person_id = :p",
                                 {"c": credential_id, "p": person_id})
        if row is None:
            raise ApiError("passkey_not_found")
        count = await db.fetch_val("SELECT COUNT(*) FROM passkey WHERE person_id = :p", {"p": person_id})
        if int(count) <= 1:
            raise ApiError("last_passkey")
        await db.execute("DELETE FROM passkey WHERE credential_id = :c", {"c": credential_id})
        await append(db, AuditEvent(action="passkey.remove", actor=actor, address=address,
                                    object=f"passkey:{credential_id}", detail={"person": person_id}))
