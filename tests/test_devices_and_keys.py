"""Enrolment, revocation and key rotation from the command line, on the real data folder."""
from __future__ import annotations

import json
import re
import uuid

import httpx

from crypto import KeyStore, envelope_kek_id
from sync_server.storage.objects import ObjectStore
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_first_start_prints_a_one_time_enrolment_code_and_serves(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        printed = [line.strip() for line in server.log.read_text().splitlines()]
        codes = [line for line in printed if CODE.match(line)]
        assert len(codes) == 1
        client = SyncClient(httpx.Client(base_url=server.url))
        assert client.enroll(codes[0].lower()).status_code == 201  # typed in lower case still works
        assert httpx.get(server.url + "/openapi.json").status_code == 200
    finally:
        server.stop()
    server.start()  # a device is enrolled now: no new code on the next start
    server.stop()
    assert len([l for l in server.log.read_text().splitlines() if CODE.match(l.strip())]) == 1


def _sync_one(client: SyncClient) -> str:
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(make_jpeg(), public, kid, sequence_id)
    doc = manifest(client.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    assert client.propose(doc).status_code == 201
    assert client.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code == 204
    assert client.commit(doc["batch_id"]).status_code == 200
    return photo.photo_id


def test_revoke_device_cuts_the_device_off_at_its_next_contact(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        client = SyncClient(httpx.Client(base_url=server.url))
        client.enroll(server.enrollment_code())
        _sync_one(client)
        server.cli("revoke-device", client.device_id or "")
        answer = client.http.get(f"/api/v1/batches/{uuid.uuid4()}", headers=client.auth)
        assert answer.status_code == 401 and answer.headers["clear-site-data"] == '"storage"'
        assert answer.json()["error"]["code"] == "device_revoked"
        devices = json.loads(server.cli("list-devices", "--json"))
        assert devices[0]["revoked_at"] is not None
    finally:
        server.stop()


def test_kek_rotation_rewraps_stored_objects_without_reencrypting_them(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    client = SyncClient(httpx.Client(base_url=server.url))
    client.enroll(server.enrollment_code())
    photo_id = _sync_one(client)
    server.stop()
    key = ObjectStore.key_for(photo_id, "original")
    path = tmp_path / "data" / "objects" / key
    before = path.read_bytes()
    old_kek = envelope_kek_id(before)
    out = server.cli("keys", "rotate", "kek")
    assert "re-wrapped" in out
    after = path.read_bytes()
    keys = KeyStore.open(tmp_path / "data" / "keys")
    assert envelope_kek_id(after) == keys.kek_id != old_kek
    assert before[-1000:] == after[-1000:]  # the data itself was not re-encrypted
    assert ObjectStore(tmp_path / "data" / "objects").get(key, {keys.kek_id: keys.kek}) == ObjectStore(
        tmp_path / "data" / "objects").get(key, keys.keks)
    server.start()  # and the server still syncs after rotation
    try:
        _sync_one(client)
    finally:
        server.stop()
