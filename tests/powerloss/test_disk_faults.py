"""A full disk and a failing disk under the real server and the real sync protocol."""
from __future__ import annotations

import errno
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from crypto import KeyStore
from sync_server.storage.objects import ObjectStore
from tests.powerloss.lazyfs import LazyFS
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import CLINPHOTO, REPO, ServerProcess


@pytest.fixture
def ward(tmp_path: Path) -> Iterator[tuple[LazyFS, ServerProcess, SyncClient]]:
    with LazyFS(tmp_path / "backing", tmp_path / "mnt") as fs:
        server = ServerProcess(fs.mountpoint / "data", CLINPHOTO_STORAGE_LOW_SPACE_BYTES="0")
        server.log = tmp_path / "server.log"
        server.start()
        code = server.enrollment_code()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            client = SyncClient(http)
            assert client.enroll(code).status_code == 201
            yield fs, server, client
        server.stop()


def _batch(client: SyncClient, n: int) -> tuple[dict[str, Any], list[Any]]:
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    photos = [seal(make_jpeg(320, 240, seed=i, quality=90), public, kid, sequence_id) for i in range(n)]
    return manifest(client.device_id or "", [sequence_form(sequence_id, "IPP-0001")], photos,
                    seal_key=(public, kid)), photos


def _storage(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(server.url + "/healthz")
    return answer.status_code, answer.json()["checks"]["storage"]


def _audited(server: ServerProcess, code: str) -> int:
    with sqlite3.connect(server.data_dir / "clinphoto.db") as db:
        return db.execute("SELECT count(*) FROM audit_entry WHERE detail LIKE ?", (f'%"{code}"%',)).fetchone()[0]


def test_a_full_disk_answers_507_keeps_nothing_and_sync_resumes_once_space_returns(ward):
    fs, server, client = ward
    doc, photos = _batch(client, 1)
    assert client.propose(doc).status_code == 201
    photo = photos[0]
    location = client.create_upload(doc["batch_id"], photo.photo_id, len(photo.sealed)).headers["location"]
    fs.fail("write", errno.ENOSPC, "/uploads/")
    answer = client.patch(location, 0, photo.sealed)
    assert answer.status_code == 507
    assert answer.json()["error"]["code"] == "storage_full"
    assert client.head(location).headers["upload-offset"] == "0"  # nothing half-written is kept
    status, storage = _storage(server)
    assert status == 503 and storage["ok"] is False and storage["error"] == "storage_full"
    assert _audited(server, "storage_full") == 1
    fs.heal()  # the administrator frees space: the same upload goes on, nothing to restart
    assert client.patch(location, 0, photo.sealed).status_code == 204
    assert client.commit(doc["batch_id"]).status_code == 200
    assert _storage(server)[0] == 200
    assert "verified" in server.cli("audit", "verify")


def test_an_fsync_error_while_filing_never_acknowledges_the_photo_nor_harms_filed_ones(ward):
    fs, server, client = ward
    doc, photos = _batch(client, 2)
    assert client.propose(doc).status_code == 201
    first, second = photos
    loc = client.create_upload(doc["batch_id"], first.photo_id, len(first.sealed)).headers["location"]
    assert client.patch(loc, 0, first.sealed).status_code == 204  # filed
    loc = client.create_upload(doc["batch_id"], second.photo_id, len(second.sealed)).headers["location"]
    fs.fail("fsync", errno.EIO, "/objects/")
    answer = client.patch(loc, 0, second.sealed)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "storage_failing"
    assert client.commit(doc["batch_id"]).status_code != 200  # no receipt while a photo is not filed
    assert _storage(server)[1]["error"] == "storage_failing"
    fs.heal()
    committed = client.commit(doc["batch_id"])  # the bytes received are filed now
    assert committed.status_code == 200, committed.text
    keys = KeyStore.open(server.data_dir / "keys")
    objects = ObjectStore(server.data_dir / "objects")
    for photo in photos:
        assert objects.get(ObjectStore.key_for(photo.photo_id, "original"), keys.keks) == photo.plaintext
    assert "verified" in server.cli("audit", "verify")


def test_storage_check_names_the_filed_photo_whose_bytes_changed_on_disk(ward):
    fs, server, client = ward
    doc, photos = _batch(client, 2)
    assert client.propose(doc).status_code == 201
    for photo in photos:
        loc = client.create_upload(doc["batch_id"], photo.photo_id, len(photo.sealed)).headers["location"]
        assert client.patch(loc, 0, photo.sealed).status_code == 204
    assert client.commit(doc["batch_id"]).status_code == 200
    assert "2 filed photos checked, 0 damaged." in server.cli("storage", "check")
    rotten = server.data_dir / "objects" / ObjectStore.key_for(photos[1].photo_id, "original")
    blob = bytearray(rotten.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one bit flipped by a failing disk
    rotten.write_bytes(bytes(blob))
    done = subprocess.run([*CLINPHOTO, "storage", "check"], env=server.env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1
    assert f"damaged: photo {photos[1].photo_id}: undecryptable" in done.stdout
    assert photos[0].photo_id not in done.stdout
    assert _audited(server, "undecryptable") == 1


def test_low_space_warns_before_writes_fail_healthz_degraded_logged_and_audited_once(tmp_path: Path):
    server = ServerProcess(tmp_path / "data", CLINPHOTO_STORAGE_LOW_SPACE_BYTES=str(10**15))  # 1 PB: any disk here is low
    server.start()
    try:
        for _ in range(2):
            answer = httpx.get(server.url + "/healthz")
            assert answer.status_code == 200  # still serving: nothing fails over
            body = answer.json()
            assert body["status"] == "degraded" and body["checks"]["storage"]["low_space"] is True
        assert _audited(server, "threshold_bytes") == 1
    finally:
        server.stop()
    assert "hospital storage is low" in server.log.read_text()


def test_an_upload_whose_part_file_a_cut_took_starts_over_instead_of_failing(ward):
    fs, server, client = ward
    doc, photos = _batch(client, 1)
    assert client.propose(doc).status_code == 201
    photo = photos[0]
    location = client.create_upload(doc["batch_id"], photo.photo_id, len(photo.sealed)).headers["location"]
    half = len(photo.sealed) // 2
    assert client.patch(location, 0, photo.sealed[:half]).status_code == 204
    server.kill()
    fs.cut()  # the part file's name was never made durable: it is gone
    server.start()
    assert client.head(location).headers["upload-offset"] == "0"
    assert client.patch(location, 0, photo.sealed).status_code == 204
    assert client.commit(doc["batch_id"]).status_code == 200
