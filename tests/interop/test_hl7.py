"""The patient index fed by HL7 v2 ADT over MLLP (sent by the hl7 library's standard client); merges, quarantine."""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Callable

import hl7
import hl7.mllp
import pytest

from sync_server.interop import patients
from sync_server.interop.hl7v2 import AdtError, parse_adt
from tests.support.photos import sequence_form
from tests.support.server import free_port

MLLP_PORT = free_port()
from tests.conftest import both_backends


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def adt(trigger: str, pid3: str, name: str = "Dupont^Zoé", birth: str = "19800102", sex: str = "F",
        mrg: str | None = None, control: str = "MSG0001") -> str:
    structure = "ADT_A39" if trigger == "A40" else "ADT_A01"
    segments = [f"MSH|^~\\&|HIS|HOSP|CLINPHOTO|HOSP|20261127100000||ADT^{trigger}^{structure}|{control}|P|2.5",
                f"EVN|{trigger}|20261127100000",
                f"PID|1||{pid3}||{name}||{birth}|{sex}"]
    if mrg:
        segments.append(f"MRG|{mrg}")
    return "\r".join(segments)


@pytest.fixture
def interop_settings() -> dict[str, Any]:
    return {"hl7_mllp_port": MLLP_PORT, "interop_admin_token": "admin-token"}


def send(*messages: str) -> list[hl7.Message]:
    async def run() -> list[hl7.Message]:
        reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", MLLP_PORT, encoding="utf-8")
        acks = []
        try:
            for message in messages:
                writer.writemessage(hl7.parse(message))
                await writer.drain()
                acks.append(await asyncio.wait_for(reader.readmessage(), 10))
        finally:
            writer.close()
        return acks
    return asyncio.run(run())


def _add_sequence(call: Callable[..., Any], services: Any, claimed: str) -> str:
    sequence_id = str(uuid.uuid4())
    form = sequence_form(sequence_id, claimed)
    call(services.store.execute,
         "INSERT INTO sequence (id, patient_id, device_id, form_sha256, form, created_at) "
         "VALUES (:id, :p, 'dev', 'x', :f, '2026-11-27T10:00:00Z')",
         {"id": sequence_id, "p": claimed, "f": json.dumps(form)})
    return sequence_id


def test_adt_a01_a04_a08_and_a40_parse_to_index_events():
    event = parse_adt(adt("A01", "123^^^X^NN~IPP-0042^^^HOSP^PI"))
    assert event.trigger == "A01" and event.patient.id == "IPP-0042"
    assert (event.patient.family, event.patient.given, event.patient.birth_date, event.patient.sex) == \
        ("Dupont", "Zoé", "1980-01-02", "F")
    merge = parse_adt(adt("A40", "IPP-0042^^^HOSP^PI", mrg="IPP-0041^^^HOSP^PI"))
    assert merge.prior_id == "IPP-0041" and merge.patient.id == "IPP-0042"
    assert parse_adt(adt("A02", "IPP-0042")).patient is None  # a transfer: acknowledged, ignored
    with pytest.raises(AdtError):
        parse_adt(adt("A40", "IPP-0042"))  # merge without MRG
    with pytest.raises(AdtError):
        parse_adt(adt("A01", "x"))  # not a hospital identifier


def test_mllp_adt_feed_fills_the_index_and_acknowledges(http, services, call):
    acks = send(adt("A04", "IPP-0100^^^HOSP^PI", control="C1"),
                adt("A08", "IPP-0100^^^HOSP^PI", name="Dupont-Durand^Zoé", control="C2"),
                adt("A01", "!!", control="C3"))
    assert [str(a.segment("MSA")[1]) for a in acks] == ["AA", "AA", "AR"]
    assert [str(a.segment("MSA")[2]) for a in acks] == ["C1", "C2", "C3"]
    row = call(services.store.fetch_one, "SELECT * FROM patient_index WHERE id = 'IPP-0100'")
    assert row["family"] == "Dupont-Durand" and row["birth_date"] == "1980-01-02" and row["source"] == "hl7:A08"
    actions = [r["action"] for r in call(services.store.fetch_all,
                                         "SELECT action FROM audit_entry WHERE patient_id = 'IPP-0100' ORDER BY seq")]
    assert actions == ["patient.index.add", "patient.index.update"]


def test_unknown_patient_waits_in_quarantine_until_the_adt_feed_brings_it(http, services, call):
    sequence_id = _add_sequence(call, services, "IPP-0200")
    assert call(patients.reconcile, services.store, sequence_id)["state"] == "quarantined"
    queue = http.get("/api/v1/interop/quarantine", headers={"Authorization": "Bearer admin-token"}).json()
    assert [s["sequence_id"] for s in queue["sequences"]] == [sequence_id]
    assert [str(a.segment("MSA")[1]) for a in send(adt("A01", "IPP-0200^^^HOSP^PI"))] == ["AA"]
    row = call(services.store.fetch_one, "SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
    assert (row["state"], row["patient_id"], row["decided_by"]) == ("reconciled", "IPP-0200", "hl7:adt")


def test_a40_merge_moves_sequences_to_the_surviving_identity(http, services, call):
    send(adt("A01", "IPP-0301^^^HOSP^PI"), adt("A01", "IPP-0302^^^HOSP^PI"))
    moved = _add_sequence(call, services, "IPP-0301")
    assert call(patients.reconcile, services.store, moved)["patient_id"] == "IPP-0301"
    acks = send(adt("A40", "IPP-0302^^^HOSP^PI", mrg="IPP-0301^^^HOSP^PI"))
    assert str(acks[0].segment("MSA")[1]) == "AA"
    row = call(services.store.fetch_one, "SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": moved})
    assert row["patient_id"] == "IPP-0302" and row["claimed_id"] == "IPP-0301"
    # a sequence synced later under the old identifier is filed under the survivor too
    late = _add_sequence(call, services, "IPP-0301")
    assert call(patients.reconcile, services.store, late)["patient_id"] == "IPP-0302"
    audit = call(services.store.fetch_all, "SELECT * FROM audit_entry WHERE action IN "
                 "('patient.index.merge', 'sequence.identity.move') ORDER BY seq")
    assert [(a["action"], a["patient_id"]) for a in audit] == [("patient.index.merge", "IPP-0302"),
                                                                ("sequence.identity.move", "IPP-0302")]


def test_quarantine_decisions_need_the_admin_token_and_a_known_patient(http, services, call):
    sequence_id = _add_sequence(call, services, "IPP-0400")
    call(patients.reconcile, services.store, sequence_id)
    url = f"/api/v1/interop/quarantine/{sequence_id}"
    assert http.post(url, json={"decision": "reject"}).status_code == 401
    unknown = http.post(url, json={"patient_id": "IPP-0401"}, headers={"Authorization": "Bearer admin-token"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "patient_unknown"
    rejected = http.post(url, json={"decision": "reject"}, headers={"Authorization": "Bearer admin-token"})
    assert rejected.json()["state"] == "rejected"
    entry = call(services.store.fetch_one, "SELECT * FROM audit_entry WHERE action = 'sequence.identity.reject'")
    assert entry["actor"] == "token:interop-admin" and entry["patient_id"] == "IPP-0400"


def test_interop_is_off_when_not_configured(tmp_path):
    from starlette.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.settings import Settings

    settings = Settings(data_dir=tmp_path / "off", pwa_dir=tmp_path / "no-pwa")
    assert not settings.interop_enabled
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        for path in ("/fhir/r4/Media", "/api/v1/interop/outbox", "/fhir/r4/metadata"):
            response = client.get(path, headers={"Authorization": "Bearer anything"})
            assert response.status_code == 404 and response.json()["error"]["code"] == "interop_disabled"
        interop = client.app.state.services.handles["interop"]
        assert interop.outbox._task is None and interop.mllp is None
