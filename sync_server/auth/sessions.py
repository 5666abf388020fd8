"""People's sessions: an opaque id in a signed cookie, the session itself in the database.

The cookie holds a random 256-bit id signed with itsdangerous under a key list (the newest key
signs, every listed key verifies, so keys rotate without signing everyone out). The database
keeps only SHA-256 of the id, so a copy of the database opens no session. A session ends when it
is idle too long, when it reaches its absolute lifetime, when the person signs out, or when an
administrator revokes the person. Each session carries its own CSRF token, sent back by the app
in ``X-CSRF-Token`` on every state-changing request.

Keys live in ``<keys_dir>/session-keys.json`` (0600), generated at first start, never in the repo.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from itsdangerous import BadSignature, Signer

from crypto.keystore import write_private_file

from ..db import Db, Writer
from ..storage.files import make_dir_durably
from ..settings import Settings
from .devices import _sha256
from ..clock import iso, utc_now

KEYS_FILE = "session-keys.json"
KEEP_KEYS = 3
COOKIE = "clinphoto_session"
SECURE_COOKIE = "__Host-clinphoto_session"  # __Host-: Secure, Path=/, no Domain: cannot be set by a subdomain
CSRF_HEADER = "x-csrf-token"
_TOUCH_EVERY = timedelta(seconds=15)


def _write_keys(path: Path, keys: list[str]) -> None:
    # written like every key file: 0600, fsynced, renamed, folder fsynced (a power cut keeps old or new)
    make_dir_durably(path.parent)
    write_private_file(path, json.dumps({"keys": keys}).encode())


def load_keys(keys_dir: Path) -> list[bytes]:
    """The session signing keys, oldest first; the first start creates one."""
    path = keys_dir / KEYS_FILE
    if not path.exists():
        _write_keys(path, [secrets.token_hex(32)])
    return [bytes.fromhex(k) for k in json.loads(path.read_text())["keys"]]


def rotate_keys(keys_dir: Path) -> int:
    """Add a new signing key, keep the previous ones for verification; returns how many are kept."""
    path = keys_dir / KEYS_FILE
    keys = [k.hex() for k in load_keys(keys_dir)] + [secrets.token_hex(32)]
    keys = keys[-KEEP_KEYS:]
    _write_keys(path, keys)
    return len(keys)


@dataclasses.dataclass(frozen=True)
class SessionCheck:
    """The outcome of reading a cookie: a live session and its person, or why not."""

    session: Mapping[str, Any] | None = None
    person: Mapping[str, Any] | None = None
    problem: str | None = None  # "missing" | "tampered" | "unknown" | "revoked" | "idle" | "expired" | "person_revoked"


class Sessions:
    def __init__(self, settings: Settings, keys: list[bytes]) -> None:
        self.settings = settings
        self.signer = Signer(keys, salt="clinphoto.session", digest_method=hashlib.sha256)
        self.secure = settings.resolved_public_url.startswith("https://")
        self.cookie_name = SECURE_COOKIE if self.secure else COOKIE

    def cookie_value(self, headers_cookie: Mapping[str, str]) -> str | None:
        return headers_cookie.get(self.cookie_name)

    def set_cookie_header(self, value: str) -> str:
        parts = [f"{self.cookie_name}={value}", "Path=/", "HttpOnly", "SameSite=Strict",
                 f"Max-Age={self.settings.session_lifetime_seconds}"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def clear_cookie_header(self) -> str:
        return f"{self.cookie_name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + ("; Secure" if self.secure else "")

    async def create(self, db: Writer, person_id: str, address: str | None) -> tuple[str, str]:
        """Inside the caller's write transaction: (signed cookie value, CSRF token)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utc_now()
        await db.execute(
            "INSERT INTO web_session (id_hash, person_id, csrf_token, created_at, last_seen_at, expires_at, address) "
            "VALUES (:h, :p, :c, :t, :t, :e, :a)",
            {"h": _sha256(session_id), "p": person_id, "c": csrf, "t": iso(now),
             "e": iso(now + timedelta(seconds=self.settings.session_lifetime_seconds)), "a": address})
        return self.signer.sign(session_id.encode()).decode(), csrf

    async def check(self, store: Db, cookie: str | None) -> SessionCheck:
        if not cookie:
            return SessionCheck(problem="missing")
        try:
            session_id = self.signer.unsign(cookie.encode()).decode()
        except (BadSignature, UnicodeDecodeError):
            return SessionCheck(problem="tampered")
        row = await store.fetch_one("SELECT * FROM web_session WHERE id_hash = :h", {"h": _sha256(session_id)})
        if row is None:
            return SessionCheck(problem="unknown")
        now = utc_now()
        if row["revoked_at"] is not None:
            return SessionCheck(session=row, problem="revoked")
        if row["expires_at"] <= iso(now):
            return SessionCheck(session=row, problem="expired")
        last_seen = datetime.fromisoformat(row["last_seen_at"].replace("Z", "+00:00"))
        if now - last_seen > timedelta(seconds=self.settings.session_idle_seconds):
            return SessionCheck(session=row, problem="idle")
        person = await store.fetch_one("SELECT * FROM person WHERE id = :id", {"id": row["person_id"]})
        if person is None or person["revoked_at"] is not None:
            return SessionCheck(session=row, person=person, problem="person_revoked")
        if now - last_seen > _TOUCH_EVERY:  # not a durable write on every request
            async with store.write() as db:
                await db.execute("UPDATE web_session SET last_seen_at = :t WHERE id_hash = :h",
                                 {"t": iso(now), "h": row["id_hash"]})
        return SessionCheck(session=row, person=person)

    async def revoke(self, db: Writer, id_hash: str) -> None:
        await db.execute("UPDATE web_session SET revoked_at = :t WHERE id_hash = :h AND revoked_at IS NULL",
                         {"t": iso(utc_now()), "h": id_hash})
