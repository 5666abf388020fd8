"""Patient identifiers, the patient index and the audit's patients are encrypted at rest (issue 12, point 3;
``sync_server/storage/fields.py``): the identifier, the names and the birth date are in neither the SQLite
file nor its WAL, nor any PostgreSQL row; look-ups go through the keyed index (the deterministic seal of the
identifier, keyed name tokens); the audit chain still verifies and reads in clear; what an earlier version
stored in clear is sealed at the next start without breaking the chain."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from crypto import CryptoError, KeyStore

from sync_server.audit.log import open_entry, verify_chain
from sync_server.interop.patients import Patient, upsert
from sync_server.services import Services
from sync_server.storage.fields import ID_PREFIX, PREFIX, PatientFields
from sync_server.storage.upgrade import rename_patient
from tests.clinical.conftest import file_sequence, restrict  # noqa: F401  (fixture)
from tests.conftest import both_backends
from tests.people.conftest import admin, person  # noqa: F401  (fixtures)

PID = "IPP-4242"
FAMILY, GIVEN, BORN = "Quasimodo-Lefèvre", "Zéphyrine", "1961-04-17"
SECRETS = (PID, "Quasimodo", "Lefèvre", GIVEN, BORN)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def _index(call: Any, services: Services, patient: Patient) -> None:
    async def work() -> None:
        async with services.store.write() as db:
            await upsert(db, patient, source="test", actor="test")
    call(work)


def _day_on_the_ward(file_sequence: Any, call: Any, services: Services, person: Any) -> None:
    """A patient indexed, photographed, synced, searched, read, flagged by an officer."""
    _index(call, services, Patient(id=PID, family=FAMILY, given=GIVEN, birth_date=BORN, sex="F"))
    file_sequence(PID)
    surgeon = person("surgeon")
    found = surgeon.get("/api/v1/patients", params={"q": "quasi zeph"})
    assert found.status_code == 200 and [p["id"] for p in found.json()["patients"]] == [PID], found.text
    assert surgeon.get(f"/api/v1/patients/{PID}/sequences").status_code == 200
    officer = person("security_officer")
    restrict(officer, PID)


def _stored_text(call: Any, services: Services, settings: Any) -> list[tuple[str, str]]:
    """(where, text) of everything the database keeps: SQLite file and WAL bytes, or every PostgreSQL row."""
    if settings.database_url:
        tables = call(services.store.fetch_all, "SELECT table_name FROM information_schema.tables "
                                                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        assert len(tables) > 20
        return [(t, "\n".join(r["row"] for r in call(services.store.fetch_all, f'SELECT x::text AS row FROM "{t}" x')))
                for t in (r["table_name"] for r in tables)]
    files = [p for p in Path(settings.data_dir).iterdir() if p.name.startswith("clinphoto.db")]
    assert {p.name for p in files} >= {"clinphoto.db", "clinphoto.db-wal"}
    return [(p.name, p.read_bytes().decode("utf-8", "replace")) for p in files]


def test_no_table_holds_a_patient_identifier_name_or_birth_date_in_clear(file_sequence, call, services, settings, person):
    _day_on_the_ward(file_sequence, call, services, person)
    for table, column in (("sequence", "patient_id"), ("patient_index", "id"), ("audit_restricted_patient", "patient_id"),
                          ("patient_recent", "patient_id")):
        values = [r["v"] for r in call(services.store.fetch_all, f"SELECT {column} AS v FROM {table}")]
        assert values and all(v.startswith(ID_PREFIX) for v in values), table
    row = call(services.store.fetch_one, "SELECT * FROM patient_index")
    assert all(row[f].startswith(PREFIX) for f in ("family", "given", "birth_date", "sex"))
    audited = call(services.store.fetch_all, "SELECT patient_id FROM audit_entry WHERE patient_id IS NOT NULL")
    assert len(audited) >= 5 and all(r["patient_id"].startswith(ID_PREFIX) for r in audited)
    for where, text in _stored_text(call, services, settings):
        for secret in SECRETS:
            assert secret not in text and json.dumps(secret)[1:-1] not in text, (where, secret)


def test_the_audit_reads_in_clear_and_its_chain_verifies(file_sequence, call, services, person):
    _day_on_the_ward(file_sequence, call, services, person)
    officer = person("security_officer")
    entries = officer.get("/api/v1/audit/entries", params={"patient": PID}).json()["entries"]
    actions = {e["action"] for e in entries}
    assert {"sequence.create", "patient.read", "audit.restricted_patient.update"} <= actions, actions
    assert all(e["patient_id"] == PID for e in entries)
    searched = [e for e in officer.get("/api/v1/audit/entries", params={"action": "patient.search"}).json()["entries"]]
    assert searched and searched[-1]["detail"]["patients"] == [PID]
    assert officer.get("/api/v1/audit/restricted-patients").json()["patients"][0]["patient_id"] == PID
    report = call(verify_chain, services.store)
    assert report.ok, report.problem
    entry = officer.get(f"/api/v1/audit/entries/{entries[0]['seq']}").json()
    assert entry["entry"]["patient_id"] == PID and entry["inclusion"]["verified"] is True


def test_an_edited_sealed_patient_breaks_the_chain_at_that_entry(file_sequence, call, services, person):
    _day_on_the_ward(file_sequence, call, services, person)
    seq = call(services.store.fetch_val, "SELECT MIN(seq) FROM audit_entry WHERE patient_id IS NOT NULL")
    other = services.store.fields.pid("IPP-9999")
    call(services.store.execute, "UPDATE audit_entry SET patient_id = :p WHERE seq = :s", {"p": other, "s": seq})
    report = call(verify_chain, services.store)
    assert not report.ok and report.first_bad_seq == seq
    call(services.store.execute, "UPDATE audit_entry SET patient_id = :p WHERE seq = :s",
         {"p": ID_PREFIX + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "s": seq})  # not a seal of this install: no crash
    report = call(verify_chain, services.store)
    assert not report.ok and report.first_bad_seq == seq


def test_name_search_goes_through_keyed_tokens(call, services, person):
    _index(call, services, Patient(id="IPP-5501", family="Le Gall-Hervé", given="Élodie", birth_date="1990-02-03"))
    _index(call, services, Patient(id="IPP-5502", family="Legrand", given="Elodie"))
    _index(call, services, Patient(id="IPP-5503", family="Martin", given="Paul"))
    tokens = call(services.store.fetch_all, "SELECT token, patient_id FROM patient_search")
    assert tokens and all(t["token"].startswith("tok1:") and t["patient_id"].startswith(ID_PREFIX) for t in tokens)
    surgeon = person("surgeon")

    def ids(**params: str) -> list[str]:
        answer = surgeon.get("/api/v1/patients", params=params)
        assert answer.status_code == 200, answer.text
        return [p["id"] for p in answer.json()["patients"]]
    assert ids(q="elo") == ["IPP-5501", "IPP-5502"]  # accent-blind, in name order
    assert ids(q="herve elodie") == ["IPP-5501"]
    assert ids(q="ELODIE", birth_date="1990-02-03") == ["IPP-5501"]
    assert ids(q="lodie") == []  # prefixes of words, not any substring
    assert ids(q="IPP-5503") == ["IPP-5503"]
    found = surgeon.get("/api/v1/patients", params={"q": "paul"}).json()["patients"]
    assert (found[0]["family"], found[0]["given"]) == ("Martin", "Paul")


def test_a_stored_identifier_opens_only_with_its_install_keys(services, tmp_path):
    stored = services.store.fields.pid(PID)
    assert stored == services.store.fields.pid(PID) == services.store.fields.pid(stored)  # the index: deterministic
    assert services.store.fields.open_pid(stored) == PID
    other = PatientFields(KeyStore.open(tmp_path / "other-keys"))
    assert other.pid(PID) != stored
    with pytest.raises(CryptoError) as refused:
        other.open_pid(stored)
    assert refused.value.reason == "decrypt_failed"


def _unseal_everything(call: Any, services: Services) -> None:
    """Put the database back as an earlier version wrote it: identifiers, index fields, audit patients in clear."""
    fields = services.store.fields
    store = services.store

    async def work() -> None:
        async with store.write() as db:
            for table, column in (("sequence", "patient_id"), ("sequence_identity", "claimed_id"),
                                  ("sequence_identity", "patient_id"), ("patient_identifier", "value"),
                                  ("patient_recent", "patient_id"),
                                  ("audit_restricted_patient", "patient_id"), ("audit_alert", "patient_id")):
                for r in await db.fetch_all(f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL"):
                    await db.execute(f"UPDATE {table} SET {column} = :c WHERE {column} = :s",
                                     {"c": fields.open_pid(r["v"]), "s": r["v"]})
            for r in await db.fetch_all("SELECT * FROM patient_index"):
                opened = open_patient_row(fields, r)
                await rename_patient(db, r["id"], opened["id"])
                await db.execute("UPDATE patient_index SET family = :family, given = :given, "
                                 "birth_date = :birth_date, sex = :sex WHERE id = :id", opened)
            for r in await db.fetch_all("SELECT seq, patient_id, object, detail FROM audit_entry"):
                e = open_entry(r, fields)
                await db.execute("UPDATE audit_entry SET patient_id = :p, object = :o, detail = :d WHERE seq = :s",
                                 {"p": e["patient_id"], "o": e["object"], "d": json.dumps(e["detail"], sort_keys=True),
                                  "s": r["seq"]})
            await db.execute("DELETE FROM patient_search")
            await db.execute("DELETE FROM patient_fields_sealed")
    call(work)


def open_patient_row(fields: PatientFields, row: Any) -> dict[str, Any]:
    from sync_server.storage.fields import open_patient
    opened = open_patient(fields, row)
    return {k: opened[k] for k in ("id", "family", "given", "birth_date", "sex")}


def test_what_an_earlier_version_stored_in_clear_is_sealed_at_start(file_sequence, call, services, settings, person):
    _day_on_the_ward(file_sequence, call, services, person)
    _unseal_everything(call, services)
    assert call(services.store.fetch_val, "SELECT COUNT(*) FROM audit_entry WHERE patient_id = :p", {"p": PID}) >= 5
    assert call(verify_chain, services.store).ok  # the leaves hold the identifiers in clear: same chain
    again = call(Services.start, settings)
    try:
        assert call(again.store.fetch_val, "SELECT COUNT(*) FROM audit_entry WHERE patient_id = :p", {"p": PID}) == 0
        for table, column in (("sequence", "patient_id"), ("patient_index", "id"), ("audit_restricted_patient",
                                                                                      "patient_id")):
            values = [r["v"] for r in call(again.store.fetch_all, f"SELECT {column} AS v FROM {table}")]
            assert values and all(v.startswith(ID_PREFIX) for v in values), table
        row = call(again.store.fetch_one, "SELECT family FROM patient_index")
        assert row["family"].startswith(PREFIX)
        report = call(verify_chain, again.store)
        assert report.ok, report.problem
        assert call(again.store.fetch_val, "SELECT COUNT(*) FROM patient_search") > 10  # tokens made again
    finally:
        call(again.stop)
    if not settings.database_url:  # once checkpointed and vacuumed, the file holds none of it
        db = sqlite3.connect(settings.data_dir / "clinphoto.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.close()
        raw = (settings.data_dir / "clinphoto.db").read_bytes()
        assert not [s for s in SECRETS if s.encode() in raw]
