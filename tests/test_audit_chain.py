"""The first audit trail: every step recorded, hash-chained, and any edit is caught."""
from __future__ import annotations

import pytest

import json

from sync_server.audit.log import verify_chain
from tests.conftest import both_backends
from tests.support.patients import rows as opened_rows


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every test here runs on the embedded SQLite and on a real PostgreSQL."""
    return both_backends(request)


def _run_a_batch(device, batch_of):
    batch = batch_of(2)
    device.propose(batch.manifest)
    for p in batch.photos:
        device.upload(batch.batch_id, p.photo_id, p.sealed)
    device.commit(batch.batch_id)
    return batch


def test_a_whole_sync_is_recorded_with_device_patient_and_outcome(device, batch_of, call, services):
    batch = _run_a_batch(device, batch_of)
    rows = opened_rows(call, services.store, "SELECT * FROM audit_entry ORDER BY seq")  # patients stored sealed
    actions = [r["action"] for r in rows]
    for action in ("device.enrollment_code.create", "device.enroll", "batch.propose", "sequence.create",
                   "upload.create", "photo.file", "batch.commit"):
        assert action in actions, action
    filed = [r for r in rows if r["action"] == "photo.file"]
    assert {r["object"] for r in filed} == {f"photo/{p.photo_id}" for p in batch.photos}
    assert all(r["patient_id"] == "IPP-0042" and r["device_id"] == device.device_id and r["outcome"] == "0"
               for r in filed)
    assert all(r["ts"].endswith("Z") for r in rows)


def _tamper(call, services, sql, values=None):
    call(services.store.execute, sql, values)
    return call(verify_chain, services.store)


def test_an_edited_entry_is_caught_and_named(device, batch_of, call, services):
    _run_a_batch(device, batch_of)
    assert call(verify_chain, services.store).ok
    report = _tamper(call, services, "UPDATE audit_entry SET patient_id = 'IPP-9999' WHERE seq = 5")
    assert not report.ok and report.first_bad_seq == 5


def test_a_deleted_entry_is_caught(device, batch_of, call, services):
    _run_a_batch(device, batch_of)
    report = _tamper(call, services, "DELETE FROM audit_entry WHERE seq = 4")
    assert not report.ok and report.first_bad_seq == 4


def test_a_removed_tail_is_caught(device, batch_of, call, services):
    _run_a_batch(device, batch_of)
    last = call(services.store.fetch_val, "SELECT MAX(seq) FROM audit_entry")
    report = _tamper(call, services, "DELETE FROM audit_entry WHERE seq = :s", {"s": last})
    assert not report.ok and report.first_bad_seq == last


def test_a_rewritten_detail_with_a_recomputed_hash_still_breaks_the_next_link(device, batch_of, call, services):
    from sync_server.audit.log import entry_hash
    _run_a_batch(device, batch_of)
    row = call(services.store.fetch_one, "SELECT * FROM audit_entry WHERE seq = 3")
    forged = dict(row)
    forged["detail"] = {"forged": True}
    new_hash = entry_hash(row["prev_hash"], forged)
    report = _tamper(call, services, "UPDATE audit_entry SET detail = :d, entry_hash = :h WHERE seq = 3",
                     {"d": json.dumps({"forged": True}), "h": new_hash})
    assert not report.ok and report.first_bad_seq == 4


def test_the_cli_verifies_the_chain_and_fails_on_tampering(tmp_path):
    from tests.support.server import ServerProcess
    server = ServerProcess(tmp_path / "data")
    server.cli("enroll-device", "--label", "a")
    server.cli("enroll-device", "--label", "b")
    assert "2 entries, unbroken" in server.cli("audit", "verify")
    import sqlite3
    with sqlite3.connect(tmp_path / "data" / "clinphoto.db") as db:
        db.execute("UPDATE audit_entry SET actor = 'cli:someone-else' WHERE seq = 1")
    import subprocess
    from tests.support.server import CLINPHOTO, REPO
    done = subprocess.run([*CLINPHOTO, "audit", "verify"], env=server.env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and "BROKEN at entry 1" in done.stdout
