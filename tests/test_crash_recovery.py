"""SIGKILL the real server at random points during uploads and commits, again and again.

After every restart the device resumes. In the end: every photo named in a receipt decrypts to
its hash, no partial file is taken as stored, and the audit chain verifies.
"""
from __future__ import annotations

import json
import random
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx

from crypto import KeyStore, verify_document
from sync_server.storage.objects import ObjectStore
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess
from tests.support.waiting import wait_for

KILLS = 22


class ResumingDevice:
    """Does what the app does after any interruption: propose again, resume uploads, commit."""

    def __init__(self, client: SyncClient, batches: list[tuple[dict[str, Any], list[Any]]]) -> None:
        self.client = client
        self.batches = batches
        self.locations: dict[str, str] = {}
        self.receipts: dict[str, dict[str, Any]] = {}

    def step(self) -> None:
        for doc, photos in self.batches:
            batch_id = doc["batch_id"]
            if batch_id in self.receipts:
                continue
            status = self.client.propose(doc)
            assert status.status_code in (200, 201), status.text
            if status.json()["state"] == "committed":
                self._keep(batch_id, self.client.receipt(batch_id))
                continue
            missing = set(status.json()["missing"])
            for photo in photos:
                if photo.photo_id in missing:
                    self._upload(batch_id, photo)
            answer = self.client.commit(batch_id)
            if answer.status_code == 409 and answer.json()["error"]["code"] == "batch_already_committed":
                answer = self.client.receipt(batch_id)
            assert answer.status_code == 200, answer.text
            self._keep(batch_id, answer)

    def _keep(self, batch_id: str, answer: Any) -> None:
        signed = answer.json()
        verify_document(signed["receipt"], signed["signature"], self.client.sign_keys())
        self.receipts[batch_id] = signed

    def _upload(self, batch_id: str, photo: Any) -> None:
        location = self.locations.get(photo.photo_id)
        offset = 0
        if location is not None:
            head = self.client.head(location)
            if head.status_code == 200:
                offset = int(head.headers["upload-offset"])
            else:
                location = None
        if location is None:
            created = self.client.create_upload(batch_id, photo.photo_id, len(photo.sealed))
            if created.status_code == 409 and created.json()["error"]["code"] == "upload_not_expected":
                return  # filed meanwhile (an upload completed just before a kill)
            assert created.status_code == 201, created.text
            location = created.headers["location"]
            self.locations[photo.photo_id] = location
        while offset < len(photo.sealed):
            answer = self.client.patch(location, offset, photo.sealed[offset:offset + 32 * 1024])
            assert answer.status_code == 204, answer.text
            offset = int(answer.headers["upload-offset"])


def test_sigkill_during_uploads_and_commits_never_loses_or_corrupts_a_photo(tmp_path: Path):
    rng = random.Random(2026)
    server = ServerProcess(tmp_path / "data")
    server.start()
    code = server.enrollment_code()
    sent = [0]  # requests the device has started: the kill lands after a counted number, on any machine

    def count(request: httpx.Request) -> None:
        sent[0] += 1

    http = httpx.Client(base_url=server.url, timeout=10, event_hooks={"request": [count]})
    client = SyncClient(http)
    assert client.enroll(code).status_code == 201
    public, kid = client.seal_key()
    batches: list[tuple[dict[str, Any], list[Any]]] = []

    def add_batch() -> None:
        b = len(batches)
        sequence_id = str(uuid.uuid4())
        photos = [seal(make_jpeg(800, 600, seed=b * 10 + i, quality=95), public, kid, sequence_id) for i in range(4)]
        batches.append((manifest(client.device_id or "", [sequence_form(sequence_id, f"IPP-{b:04d}")], photos, seal_key=(public, kid)), photos))

    for _ in range(4):
        add_batch()
    device = ResumingDevice(client, batches)

    kills = interrupted = 0
    for _ in range(KILLS):
        while len(batches) - len(device.receipts) < 3:  # always work in flight when the kill comes
            add_batch()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                device.step()
            except (httpx.TransportError, AssertionError, KeyError, ValueError) as exc:
                errors.append(exc)

        worker = threading.Thread(target=work)
        before = sent[0]
        worker.start()
        after = rng.randint(1, 8)  # kill once this many requests of the run have gone out
        wait_for(lambda: sent[0] >= before + after or not worker.is_alive(), timeout=60, every=0.001,
                 what=f"the device to send {after} requests")
        server.kill()
        kills += 1
        worker.join(timeout=30)
        interrupted += bool(errors)
        server.start()
        for exc in errors:  # only the kill may interrupt the device: anything else is a real failure
            assert isinstance(exc, httpx.TransportError) or "Server disconnected" in str(exc), repr(exc)
    device.step()  # the last, uninterrupted run finishes everything
    assert len(device.receipts) == len(batches)
    server.stop()
    assert kills >= 20
    assert interrupted >= 15, f"only {interrupted} of {kills} kills landed during work"

    keys = KeyStore.open(tmp_path / "data" / "keys")
    objects = ObjectStore(tmp_path / "data" / "objects")
    expected = {p.photo_id: p for _, photos in batches for p in photos}
    for signed in device.receipts.values():
        for listed in signed["receipt"]["photos"]:
            key = ObjectStore.key_for(listed["photo_id"], "original")
            assert objects.get(key, keys.keks) == expected[listed["photo_id"]].plaintext
            assert listed["sha256"] == expected[listed["photo_id"]].sha256
    leftovers = list((tmp_path / "data" / "objects").rglob("*.tmp"))
    assert leftovers == [], "a temp file survived a restart"
    out = server.cli("audit", "verify")
    assert "verified" in out
    assert json.loads(server.cli("list-devices", "--json"))[0]["id"] == client.device_id
