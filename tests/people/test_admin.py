"""Administration (people, devices with QR codes), the docking station view, and the command line."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.people.conftest import register
from tests.support.client import SyncClient

REPO = Path(__file__).resolve().parents[2]


def test_admin_enrols_a_device_with_a_code_and_a_qr_code_and_lists_it(http, admin, audit):
    created = admin.post("/api/v1/admin/devices", json={"label": "Bloc 3 phone"})
    assert created.status_code == 201
    body = created.json()
    assert body["qr_svg"].startswith("data:image/svg+xml") and body["enrol_url"].endswith(body["code"])
    listed = admin.get("/api/v1/admin/devices").json()
    assert [p["label"] for p in listed["pending_enrollments"]] == ["Bloc 3 phone"]
    phone = SyncClient(http)
    assert phone.enroll(body["code"]).status_code == 201
    listed = admin.get("/api/v1/admin/devices").json()
    assert listed["pending_enrollments"] == []
    (row,) = listed["devices"]
    assert row["id"] == phone.device_id and row["last_seen_at"] is None and row["pending_batches"] == 0
    assert audit("device.enrollment_code.create")[-1]["actor"] == f"user:{admin.id}"


def test_station_shows_each_device_with_its_open_batches_for_nurses(http, person, device, batch_of):
    batch = batch_of(1)
    assert device.propose(batch.manifest).status_code == 201
    http.get("/api/v1/devices/me", headers=device.auth)
    nurse = person("nurse")
    station = nurse.get("/api/v1/station/devices")
    assert station.status_code == 200
    (row,) = station.json()["devices"]
    assert row["id"] == device.device_id and row["pending_batches"] == 1 and row["last_sync_at"] is None
    assert row["last_seen_at"] is not None and row["errors"] == []
    assert person("surgeon").get("/api/v1/station/devices").status_code == 403


def test_admin_invites_people_with_roles_and_can_issue_a_new_link(http, admin, audit):
    invited = admin.post("/api/v1/admin/people", json={"name": "Dr Djian", "roles": ["surgeon"]})
    assert invited.status_code == 201
    bad = admin.post("/api/v1/admin/people", json={"name": "X", "roles": ["god"]})
    assert bad.status_code == 422
    old_link = invited.json()["registration_url"]
    renewed = admin.post(f"/api/v1/admin/people/{invited.json()['person_id']}/invitation")
    assert renewed.status_code == 201
    begin = http.post("/api/v1/auth/register/begin", json={"token": old_link.rsplit("/", 1)[-1]},
                      headers={"Origin": "http://127.0.0.1:8000"})
    assert begin.json()["error"]["code"] == "invitation_invalid"
    assert register(http, renewed.json()["registration_url"]).status_code == 201
    people = {p["name"]: p for p in admin.get("/api/v1/admin/people").json()["people"]}
    assert people["Dr Djian"]["roles"] == ["surgeon"] and people["Dr Djian"]["passkeys"] == 1


def _cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sync_server.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env={"CLINPHOTO_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_create_admin_prints_a_one_time_registration_link(tmp_path):
    out = _cli(tmp_path / "data", "create-admin", "--name", "Night admin")
    assert re.search(r"^http://localhost:8000/#/register/[A-Za-z0-9_-]{40,}$", out, re.M)
    out = _cli(tmp_path / "data", "keys", "rotate", "session")
    assert "session cookie key" in out


LINK = re.compile(r"^http://localhost:\d+/#/register/[A-Za-z0-9_-]{40,}$")


def test_first_start_prints_an_administrator_link_until_one_is_registered(tmp_path):
    import httpx

    from tests.people.authenticator import SoftAuthenticator
    from tests.support.server import ServerProcess

    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        links = [l.strip() for l in server.log.read_text().splitlines() if LINK.match(l.strip())]
        assert len(links) == 1
        origin = links[0].split("/#/")[0]
        authn = SoftAuthenticator(origin=origin)
        with httpx.Client(base_url=server.url, headers={"Origin": origin}) as client:
            begin = client.post("/api/v1/auth/register/begin", json={"token": links[0].rsplit("/", 1)[-1]}).json()
            finish = client.post("/api/v1/auth/register/finish", json={
                "challenge_id": begin["challenge_id"], "credential": authn.create(begin["options"])})
            assert finish.status_code == 201 and finish.json()["person"]["roles"] == ["administrator"]
    finally:
        server.stop()
    server.start()  # an administrator exists now: no new link
    server.stop()
    assert len([l for l in server.log.read_text().splitlines() if LINK.match(l.strip())]) == 1


def test_the_last_administrator_cannot_be_revoked_by_themselves_or_anyone(http, admin, person, audit):
    refused = admin.post(f"/api/v1/admin/people/{admin.id}/revoke")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "last_administrator", refused.text
    assert admin.get("/api/v1/me").status_code == 200  # still signed in, still an administrator
    assert not audit("person.revoke")
    assert any(e["detail"].get("code") == "last_administrator" for e in audit("http.post"))
    # an administrator invited but not registered yet cannot sign in: they do not count
    pending = admin.post("/api/v1/admin/people", json={"name": "Not yet", "roles": ["administrator"]})
    assert admin.post(f"/api/v1/admin/people/{admin.id}/revoke").status_code == 409
    # with a second administrator who can sign in, either may go, but not both
    second = person("administrator", name="Second Admin")
    assert second.post(f"/api/v1/admin/people/{admin.id}/revoke").status_code == 204
    last = second.post(f"/api/v1/admin/people/{second.id}/revoke")
    assert last.status_code == 409 and last.json()["error"]["code"] == "last_administrator"
    assert admin.post(f"/api/v1/admin/people/{pending.json()['person_id']}/revoke").status_code in (401, 403)
    assert second.post(f"/api/v1/admin/people/{pending.json()['person_id']}/revoke").status_code == 204


def test_invite_prints_a_one_time_link_for_a_person_of_the_given_roles(tmp_path):
    import sqlite3

    out = _cli(tmp_path / "data", "invite", "--name", "Dr Alice Martin", "--role", "surgeon")
    assert "register Dr Alice Martin's passkey" in out
    assert re.search(LINK.pattern, out, re.M)
    db = sqlite3.connect(tmp_path / "data" / "clinphoto.db")
    assert db.execute("SELECT name, roles, created_by FROM person").fetchall() == [("Dr Alice Martin", "surgeon", "cli:admin")]
    assert db.execute("SELECT actor FROM audit_entry WHERE action = 'person.create'").fetchall() == [("cli:admin",)]
    bad = subprocess.run([sys.executable, "-m", "sync_server.cli", "invite", "--name", "X", "--role", "root"], cwd=REPO,
                         capture_output=True, text=True, env={"CLINPHOTO_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "invalid choice: 'root'" in bad.stderr
