"""``clinphoto backup`` while the real server syncs, ``clinphoto restore`` into a fresh folder, sync on.

The device syncs through the real protocol before and during the backup; the restored install
verifies every photo against its recorded SHA-256 and the audit chain, then a server started on it
accepts more photos from the same device with the same credential.
"""
from __future__ import annotations

import json
import stat
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from crypto import KeyStore
from sync_server.storage.objects import ObjectStore
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import CLINPHOTO, REPO, ServerProcess


def sync_batch(client: SyncClient, n: int, tag: int) -> tuple[dict[str, Any], list[Any]]:
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    photos = [seal(make_jpeg(320, 240, seed=tag * 10 + i), public, kid, sequence_id) for i in range(n)]
    doc = manifest(client.device_id or "", [sequence_form(sequence_id, f"IPP-{tag:04d}")], photos,
                   seal_key=(public, kid))
    return client.sync(doc, photos), photos


def clinphoto(data_dir: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**ServerProcess(data_dir).env, **({"CLINPHOTO_DATABASE_URL": db} if db else {})}
    return subprocess.run([*CLINPHOTO, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest) -> tuple[str | None, str | None]:
    """The live install's database and an empty one to restore into (None: SQLite in the data folder)."""
    if request.param == "sqlite":
        return None, None
    return request.getfixturevalue("pg_database_url"), request.getfixturevalue("pg_cluster").create_database(
        "r" + uuid.uuid4().hex[:12])


def test_backup_while_syncing_then_restore_verifies_and_the_device_syncs_on(tmp_path: Path, two_databases):
    live_db, restore_db = two_databases
    db_env = {"CLINPHOTO_DATABASE_URL": live_db} if live_db else {}
    server = ServerProcess(tmp_path / "data", **db_env)
    server.start()
    try:
        client = SyncClient(httpx.Client(base_url=server.url, timeout=30))
        assert client.enroll(server.enrollment_code()).status_code == 201
        before = [sync_batch(client, 3, tag) for tag in range(3)]

        during: list[Any] = []
        stop = threading.Event()
        failures: list[BaseException] = []

        def keep_syncing() -> None:
            tag = 100
            try:
                while not stop.is_set():
                    during.append(sync_batch(client, 2, tag))
                    tag += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        worker = threading.Thread(target=keep_syncing)
        worker.start()
        try:
            done = clinphoto(tmp_path / "data", "backup", "--out", str(tmp_path / "backup"), db=live_db)
        finally:
            stop.set()
            worker.join(timeout=60)
        assert not failures, failures
        assert done.returncode == 0, done.stderr
        assert "Store them apart" in done.stdout
        assert during, "the device did not sync while the backup ran"
    finally:
        server.stop()

    backup = tmp_path / "backup"
    document = json.loads((backup / "manifest.json").read_text())
    assert document["database"] == ("postgresql" if live_db else "sqlite")
    assert document["counts"]["photos"] >= 9
    assert all(name.startswith(("clinphoto.db", "database.pgdump", "objects/", "data/")) for name in document["files"])
    assert stat.S_IMODE((backup / "keys").stat().st_mode) == 0o700
    assert document["keys"] and all(stat.S_IMODE((backup / "keys" / k).stat().st_mode) == 0o600
                                     for k in document["keys"])

    # a non-empty data folder is refused, and nothing in it is touched
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("kept")
    refused = clinphoto(busy, "restore", "--from", str(backup), db=restore_db)
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["something"]

    restored = tmp_path / "restored"
    if live_db:  # a database already in use is refused too
        used = clinphoto(tmp_path / "fresh", "restore", "--from", str(backup), db=live_db)
        assert used.returncode == 1 and "not empty" in used.stderr
    done = clinphoto(restored, "restore", "--from", str(backup), db=restore_db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Photos verified: {document['counts']['photos']} decrypt" in done.stdout
    assert "Audit chain verified" in done.stdout

    # every photo committed before the backup began is there, byte for byte
    keys = KeyStore.open(restored / "keys")
    objects = ObjectStore(restored / "objects")
    for signed, photos in before:
        for photo in photos:
            assert objects.get(ObjectStore.key_for(photo.photo_id, "original"), keys.keks) == photo.plaintext

    again = ServerProcess(restored, **({"CLINPHOTO_DATABASE_URL": restore_db} if restore_db else {}))
    again.start()
    try:
        client.http = httpx.Client(base_url=again.url, timeout=30)
        signed, photos = sync_batch(client, 3, 900)  # the same credential, the same receipt keys
        assert len(signed["receipt"]["photos"]) == 3
        out = again.cli("audit", "verify")
        assert "verified" in out
    finally:
        again.stop()


def test_restore_refuses_a_damaged_backup(tmp_path: Path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        client = SyncClient(httpx.Client(base_url=server.url, timeout=30))
        assert client.enroll(server.enrollment_code()).status_code == 201
        sync_batch(client, 2, 1)
        keys_apart = tmp_path / "keys-apart"
        done = clinphoto(tmp_path / "data", "backup", "--out", str(tmp_path / "backup"), "--keys-out", str(keys_apart))
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
    assert not (tmp_path / "backup" / "keys").exists()
    missing = clinphoto(tmp_path / "r1", "restore", "--from", str(tmp_path / "backup"))
    assert missing.returncode == 1 and "--keys-from" in missing.stderr
    victim = next((tmp_path / "backup" / "objects").rglob("*.original"))
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    damaged = clinphoto(tmp_path / "r2", "restore", "--from", str(tmp_path / "backup"), "--keys-from", str(keys_apart))
    assert damaged.returncode == 1 and "does not match its SHA-256" in damaged.stderr
