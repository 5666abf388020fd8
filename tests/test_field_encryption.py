"""Sequence forms are encrypted at rest in the database (issue 12, point 3; ``sync_server/storage/fields.py``):
the surgeon's name, the free-text note and every clinical answer are in neither the SQLite file nor its
WAL, nor a PostgreSQL row; a form moved to another row does not open; forms an earlier version stored in
clear are sealed at the next start; and the clinicians' API still reads them."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from crypto import CryptoError

from sync_server.services import Services
from sync_server.storage.fields import PREFIX, open_form, seal_form
from tests.conftest import Batch, both_backends
from tests.people.conftest import admin, person  # noqa: F401  (fixtures)
from tests.support.photos import manifest, sequence_form

SURGEON = "Dr Zéphyrin Quasimodo"
NOTE = "NOTE-7f3a: cicatrice chéloïde ancienne"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def _sync_named_form(device, call, services) -> Batch:  # type: ignore[no-untyped-def]
    batch = Batch(device, 1, patient_id="IPP-4242")
    batch.form = sequence_form(batch.sequence_id, "IPP-4242", surgeon=SURGEON, note=NOTE)
    public, kid = device.seal_key()
    batch.manifest = manifest(device.device_id or "", [batch.form], batch.photos, seal_key=(public, kid))
    batch.batch_id = batch.manifest["batch_id"]
    assert device.propose(batch.manifest).status_code == 201
    photo = batch.photos[0]
    assert device.upload(batch.batch_id, photo.photo_id, photo.sealed).status_code == 204
    assert device.commit(batch.batch_id).status_code == 200
    call(services.decoder.wait_idle)
    return batch


def test_a_form_is_stored_encrypted_and_read_back_by_the_clinicians_api(device, call, services, person):
    batch = _sync_named_form(device, call, services)
    stored = call(services.store.fetch_val, "SELECT form FROM sequence WHERE id = :id", {"id": batch.sequence_id})
    assert stored.startswith(PREFIX)
    for secret in (SURGEON, NOTE, "rhinoplasty", "pre_op", '"consent"'):
        assert secret not in stored
    assert open_form(services.keys, batch.sequence_id, stored) == batch.form
    surgeon = person("surgeon")
    timeline = surgeon.get("/api/v1/patients/IPP-4242/sequences")
    assert timeline.status_code == 200, timeline.text
    [sequence] = timeline.json()["sequences"]
    assert sequence["taken_by"]["name"] == SURGEON and sequence["note"] == NOTE
    assert sequence["procedure"]["code"] == "rhinoplasty"


def test_no_table_holds_the_form_in_clear(device, call, services, settings):
    """SQLite: the bytes of the database file and its WAL. PostgreSQL: every row of every table, as text."""
    _sync_named_form(device, call, services)
    if settings.database_url:
        tables = call(services.store.fetch_all, "SELECT table_name FROM information_schema.tables "
                                                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        assert len(tables) > 20
        for table in (r["table_name"] for r in tables):
            rows = call(services.store.fetch_all, f'SELECT t::text AS row FROM "{table}" t')
            text = "\n".join(r["row"] for r in rows)
            for secret in (SURGEON, NOTE):
                assert secret not in text and json.dumps(secret)[1:-1] not in text, table
        return
    data: Path = settings.data_dir
    files = [p for p in data.iterdir() if p.name.startswith("clinphoto.db")]
    assert {p.name for p in files} >= {"clinphoto.db", "clinphoto.db-wal"}
    for path in files:
        raw = path.read_bytes()
        for secret in (SURGEON, NOTE):
            assert secret.encode() not in raw, path.name
            assert json.dumps(secret).encode() not in raw, path.name  # as JSON escapes it


def test_a_form_moved_to_another_row_does_not_open(services):
    stored = seal_form(services.keys, "0b6c9c55-6f0e-4c43-9a2b-1d8f3e3a0a01", {"surgeon": SURGEON})
    with pytest.raises(CryptoError) as refused:
        open_form(services.keys, "7d1f2a9e-3b4c-4d5e-8f60-2a1b3c4d5e02", stored)
    assert refused.value.reason == "decrypt_failed"


def test_forms_stored_in_clear_by_an_earlier_version_are_sealed_at_start(device, call, services, settings):
    batch = _sync_named_form(device, call, services)
    clear = json.dumps(batch.form, sort_keys=True)
    call(services.store.execute, "UPDATE sequence SET form = :f WHERE id = :id", {"f": clear, "id": batch.sequence_id})
    assert open_form(services.keys, batch.sequence_id, clear) == batch.form  # readable meanwhile
    again = call(Services.start, settings)
    try:
        stored = call(again.store.fetch_val, "SELECT form FROM sequence WHERE id = :id", {"id": batch.sequence_id})
        assert stored.startswith(PREFIX) and SURGEON not in stored
        assert open_form(again.keys, batch.sequence_id, stored) == batch.form
    finally:
        call(again.stop)
    if not settings.database_url:  # and the clear text is gone from the database file once checkpointed
        db = sqlite3.connect(settings.data_dir / "clinphoto.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.close()
        assert SURGEON.encode() not in (settings.data_dir / "clinphoto.db").read_bytes()
