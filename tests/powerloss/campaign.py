"""The power-loss campaign: sync through the real protocol, cut the power at random moments, check.

The whole data folder (database, objects, uploads, keys) lives on ``LazyFS``. A cut is: SIGKILL the
server (its process dies with the machine), drop everything the disk had not made durable, start
again. After every cut: every photo a device holds a receipt for is on disk and decrypts to its hash,
nothing filed is short, and ``clinphoto audit verify`` passes. The device then resumes (its tus
uploads resume or start over) as the app does.

    .venv/bin/pytest -q tests/powerloss/test_campaign.py      # short, in make test
    .venv/bin/python -m bench.powerloss --cuts 200           # long, in make bench
"""
from __future__ import annotations

import random
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from crypto import KeyStore
from sync_server.storage.objects import ObjectStore
from tests.powerloss.lazyfs import LazyFS
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess
from tests.test_crash_recovery import ResumingDevice


@dataclass
class Outcome:
    cuts: int = 0
    interrupted: int = 0
    photos_receipted: int = 0
    losses: int = 0


def _check(data: Path, device: ResumingDevice, expected: dict[str, Any], server: ServerProcess) -> int:
    """Receipted photos missing or wrong after a cut (0 is the only acceptable answer)."""
    keys = KeyStore.open(data / "keys")
    objects = ObjectStore(data / "objects")
    lost = 0
    for signed in device.receipts.values():
        for listed in signed["receipt"]["photos"]:
            key = ObjectStore.key_for(listed["photo_id"], "original")
            try:
                ok = objects.get(key, keys.keks) == expected[listed["photo_id"]].plaintext
            except Exception:
                ok = False
            lost += not ok
    with sqlite3.connect(data / "clinphoto.db") as db:  # nothing counted as filed is missing or short
        filed = db.execute("SELECT storage_key, stored_size FROM photo WHERE state IN ('filed', 'verified')").fetchall()
    lost += sum(not objects.exists(key, size) for key, size in filed)
    assert "verified" in server.cli("audit", "verify")
    return lost


def run(root: Path, cuts: int, seed: int = 2026, photos_per_batch: int = 3) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome()
    with LazyFS(root / "backing", root / "mnt") as fs:
        data = fs.mountpoint / "data"
        server = ServerProcess(data)
        server.log = root / "server.log"
        server.start()
        code = server.enrollment_code()
        # the first cut comes right after the first start: keys and enrolment must already be durable
        server.kill()
        fs.cut()
        server.start()
        http = httpx.Client(base_url=server.url, timeout=10)
        client = SyncClient(http)
        assert client.enroll(code).status_code == 201, "the enrolment code did not survive a cut"
        public, kid = client.seal_key()
        batches: list[tuple[dict[str, Any], list[Any]]] = []
        expected: dict[str, Any] = {}

        def add_batch() -> None:
            b = len(batches)
            sequence_id = str(uuid.uuid4())
            photos = [seal(make_jpeg(640, 480, seed=seed + b * 10 + i, quality=90), public, kid, sequence_id)
                      for i in range(photos_per_batch)]
            expected.update({p.photo_id: p for p in photos})
            batches.append((manifest(client.device_id or "", [sequence_form(sequence_id, f"IPP-{b:05d}")], photos,
                                     seal_key=(public, kid)), photos))

        device = ResumingDevice(client, batches)
        for _ in range(cuts):
            while len(batches) - len(device.receipts) < 2:
                add_batch()
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    device.step()
                except (httpx.TransportError, AssertionError, KeyError, ValueError) as exc:
                    errors.append(exc)

            worker = threading.Thread(target=work)
            worker.start()
            worker.join(timeout=rng.uniform(0.05, 0.8))
            server.kill()
            worker.join(timeout=30)
            fs.cut()
            outcome.cuts += 1
            outcome.interrupted += bool(errors)
            for exc in errors:  # only the cut may interrupt the device
                assert isinstance(exc, httpx.TransportError) or "Server disconnected" in str(exc), repr(exc)
            server.start()
            outcome.losses += _check(data, device, expected, server)
        device.step()
        outcome.photos_receipted = sum(len(s["receipt"]["photos"]) for s in device.receipts.values())
        assert len(device.receipts) == len(batches)
        outcome.losses = max(outcome.losses, _check(data, device, expected, server))
        assert "0 damaged" in server.cli("storage", "check")
        server.stop()
        http.close()
    return outcome
