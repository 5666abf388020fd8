"""The fixed points tools rely on: /healthz, /openapi.json, /api/v1/keys, settings, headers."""
from __future__ import annotations

import pytest

from crypto import public_key_from_jwk
from sync_server.settings import Settings, SettingsError


def test_healthz_reports_database_and_storage(http):
    body = http.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "backend": "sqlite"}
    assert body["checks"]["storage"]["ok"] is True
    assert body["checks"]["decode"] == {"ok": True, "backlog": 0, "oldest_seconds": 0.0}


# The fixed points DESIGN.md names, written out here (not read from the route list the spec is built from).
FIXED_POINTS = [
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("get", "/api/v1/keys"),
    ("post", "/api/v1/uploads"),                      # tus: create
    ("head", "/api/v1/uploads/{upload_id}"),          # tus: offset
    ("patch", "/api/v1/uploads/{upload_id}"),         # tus: append
    ("get", "/api/v1/patients/{patient_id}/sequences"),
    ("get", "/api/v1/photos/{photo_id}/preview"),
    ("get", "/api/v1/photos/{photo_id}/original"),
]


@pytest.mark.parametrize(("method", "path"), FIXED_POINTS)
def test_the_fixed_points_answer_and_are_in_the_openapi_document(http, method, path):
    spec = http.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} missing from /openapi.json"
    assert "batch_manifest" in spec["components"]["schemas"]
    if "{" not in path:  # a route the server knows (it may still ask who is calling)
        assert http.request(method.upper(), path).status_code not in (404, 405), (method, path)


def test_openapi_is_a_valid_openapi_31_document(http):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(http.get("/openapi.json").json())


def test_public_keys_are_jwks_for_sealing_and_signing(http):
    keys = http.get("/api/v1/keys").json()["keys"]
    uses = {k["use"]: k for k in keys}
    assert uses["enc"]["crv"] == "P-256" and uses["sig"]["crv"] == "Ed25519"
    assert all("d" not in k for k in keys)  # never a private part
    for jwk in keys:
        public_key_from_jwk(jwk)


def test_responses_carry_security_headers(http):
    headers = http.get("/healthz").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_keys_and_database_are_created_on_first_start_with_private_permissions(http, settings):
    keys_dir = settings.resolved_keys_dir
    assert (keys_dir.stat().st_mode & 0o777) == 0o700
    files = [p for p in keys_dir.iterdir() if p.is_file()]
    assert files and all((p.stat().st_mode & 0o777) == 0o600 for p in files)
    assert (settings.data_dir / "clinphoto.db").exists()


def test_settings_come_from_clinphoto_variables():
    settings = Settings.from_env({"CLINPHOTO_PORT": "9001", "CLINPHOTO_DATA_DIR": "/srv/clinphoto"})
    assert settings.port == 9001 and str(settings.data_dir) == "/srv/clinphoto"
    assert settings.resolved_database_url == "sqlite:////srv/clinphoto/clinphoto.db"
    with pytest.raises(SettingsError, match="CLINPHOTO_MAX_PIXELS"):
        Settings.from_env({"CLINPHOTO_MAX_PIXELS": "-3"})
