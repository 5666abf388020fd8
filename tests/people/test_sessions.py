"""Sessions: signed opaque cookie, server-side rows, idle and absolute limits, CSRF; every refusal audited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sync_server.auth.sessions import Sessions, load_keys, rotate_keys
from sync_server.settings import Settings
from tests.people.conftest import ORIGIN


def _ago(seconds: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def _refused(response, code, audit, reason=None):
    assert response.status_code in (401, 403), response.text
    assert response.json()["error"]["code"] == code
    if reason:
        assert audit("session.check")[-1]["detail"]["reason"] == reason


def test_no_cookie_means_sign_in_first(http, admin, audit):
    response = http.get("/api/v1/me")
    _refused(response, "session_required", audit, "missing")


def test_tampered_cookie_is_refused_and_cleared(http, admin, audit):
    value, signature = admin.cookie.rsplit(".", 1)
    admin.cookie = value[:-1] + ("A" if value[-1] != "A" else "B") + "." + signature
    response = admin.get("/api/v1/me")
    _refused(response, "session_invalid", audit, "tampered")
    assert "Max-Age=0" in response.headers["set-cookie"]


def test_expired_session_is_refused(http, admin, services, call, audit):
    call(services.store.execute, "UPDATE web_session SET expires_at = :t", {"t": _ago(1)})
    _refused(admin.get("/api/v1/me"), "session_invalid", audit, "expired")


def test_idle_session_is_refused(http, admin, services, call, audit):
    call(services.store.execute, "UPDATE web_session SET last_seen_at = :t",
         {"t": _ago(services.settings.session_idle_seconds + 5)})
    _refused(admin.get("/api/v1/me"), "session_invalid", audit, "idle")


def test_signed_out_session_cookie_no_longer_works(http, admin, audit):
    assert admin.post("/api/v1/auth/signout").status_code == 204
    _refused(admin.get("/api/v1/me"), "session_invalid", audit, "revoked")
    assert audit("session.close")


def test_cross_site_post_is_refused_and_harmless(http, admin, audit, services, call):
    count = lambda: call(services.store.fetch_val, "SELECT COUNT(*) FROM person")  # noqa: E731
    before = count()
    invite = {"name": "Mallory", "roles": ["administrator"]}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"X-CSRF-Token": "forged"}):
        response = admin.post("/api/v1/admin/people", json=invite, headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    no_origin = http.post("/api/v1/admin/people", json=invite,
                          headers={"Cookie": f"clinphoto_session={admin.cookie}", "X-CSRF-Token": admin.csrf})
    assert no_origin.status_code == 403 and no_origin.json()["error"]["code"] == "csrf_failed"
    assert count() == before
    refusals = [e for e in audit("http.post") if e["detail"].get("code") == "csrf_failed"]
    assert len(refusals) == 4 and all(e["actor"] == f"user:{admin.id}" for e in refusals)
    # a cross-site sign-in (login CSRF) is refused too
    login = http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": "https://evil.example"})
    assert login.status_code == 403


def test_a_device_credential_never_opens_people_routes_and_a_cookie_never_opens_sync(http, admin, device):
    assert http.get("/api/v1/me", headers=device.auth).json()["error"]["code"] == "session_required"
    answer = http.get("/api/v1/devices/me", headers=admin.headers())
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "device_unauthenticated"


def test_cookie_is_secure_and_host_prefixed_on_https(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, public_url="https://photos.hospital.example")
    sessions = Sessions(settings, load_keys(tmp_path / "keys"))
    header = sessions.set_cookie_header("v")
    assert header.startswith("__Host-clinphoto_session=v;")
    assert all(part in header for part in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"))


def test_session_keys_rotate_without_signing_anyone_out(tmp_path: Path):
    keys_dir = tmp_path / "keys"
    settings = Settings(data_dir=tmp_path)
    old = Sessions(settings, load_keys(keys_dir))
    assert (keys_dir / "session-keys.json").stat().st_mode & 0o777 == 0o600
    cookie = old.signer.sign(b"session-id").decode()
    rotate_keys(keys_dir)
    new = Sessions(settings, load_keys(keys_dir))
    assert new.signer.unsign(cookie.encode()) == b"session-id"  # older key still verifies
    assert new.signer.sign(b"x") != old.signer.sign(b"x")  # the newest key signs
