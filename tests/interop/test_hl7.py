"""The patient index fed by HL7 v2 ADT over MLLP (sent by the hl7 library's standard client); merges, quarantine
of unknown and inconsistent identities, and the decisions people make on it."""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Callable

import pytest

from sync_server.interop import patients
from sync_server.interop.hl7v2 import Hl7Error, handle_frame, parse_adt
from tests.support.patients import patient_row, rows as opened_rows
from tests.conftest import both_backends
from tests.interop.conftest import ack_codes, error_code, adt, send_frames, send_mllp, valid_ack
from tests.support.photos import sequence_form
from tests.support.server import free_port

MLLP_PORT = free_port()
ADMIN_TOKEN = {"Authorization": "Bearer admin-token"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


@pytest.fixture
def interop_settings() -> dict[str, Any]:
    return {"hl7_mllp_port": MLLP_PORT, "interop_admin_token": "admin-token"}


def send(*messages: str) -> list[Any]:
    return send_mllp(MLLP_PORT, *messages)


def _add_sequence(call: Callable[..., Any], services: Any, claimed: str) -> str:
    sequence_id = str(uuid.uuid4())
    form = sequence_form(sequence_id, claimed)
    call(services.store.execute,
         "INSERT INTO sequence (id, patient_id, device_id, form_sha256, form, created_at) "
         "VALUES (:id, :p, 'dev', 'x', :f, '2026-11-27T10:00:00Z')",
         {"id": sequence_id, "p": claimed, "f": json.dumps(form)})
    return sequence_id


def _identity(call: Callable[..., Any], services: Any, sequence_id: str) -> dict[str, Any]:
    found = opened_rows(call, services.store, "SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
    return found[0] if found else None  # type: ignore[return-value]


def _queue(http: Any) -> dict[str, dict[str, Any]]:
    queue = http.get("/api/v1/interop/quarantine", headers=ADMIN_TOKEN).json()["sequences"]
    return {q["sequence_id"]: q for q in queue}


def test_adt_a01_a04_a08_a29_and_a40_parse_to_index_events():
    event = parse_adt(adt("A01", "123^^^X^NN~IPP-0042^^^HOSP^PI"))
    assert event.trigger == "A01" and event.patient.id == "IPP-0042" and event.patient.active
    assert (event.patient.family, event.patient.given, event.patient.birth_date, event.patient.sex) == \
        ("Dupont", "Zoé", "1980-01-02", "F")
    assert event.patient.authority == "HOSP" and event.patient.other_ids == (("123", "X"),)
    universal = parse_adt(adt("A08", "IPP-0042^^^&1.2.250.1.71.4.2.7&ISO^PI"))
    assert universal.patient.authority == "1.2.250.1.71.4.2.7"
    assert parse_adt(adt("A29", "IPP-0042^^^HOSP^PI")).patient.active is False
    merge = parse_adt(adt("A40", "IPP-0042^^^HOSP^PI", mrg="IPP-0041^^^HOSP^PI"))
    assert merge.prior_id == "IPP-0041" and merge.patient.id == "IPP-0042"
    with pytest.raises(Hl7Error) as transfer:
        parse_adt(adt("A02", "IPP-0042"))  # a transfer changes the stay: without PV1 it says nothing
    assert (transfer.value.ack_code, transfer.value.error_code, transfer.value.location) == ("AE", 100, "PV1")
    with pytest.raises(Hl7Error) as allergy:
        parse_adt(adt("A60", "IPP-0042"))  # not an event of this feed
    assert (allergy.value.ack_code, allergy.value.error_code) == ("AR", 201)
    with pytest.raises(Hl7Error) as no_mrg:
        parse_adt(adt("A40", "IPP-0042"))  # merge without MRG
    assert no_mrg.value.ack_code == "AE"
    with pytest.raises(Hl7Error) as bad_id:
        parse_adt(adt("A01", "x"))  # not a hospital identifier
    assert (bad_id.value.ack_code, bad_id.value.error_code, bad_id.value.location) == ("AE", 102, "PID^1^3^1^1")


def test_mllp_adt_feed_fills_the_index_and_acknowledges(http, services, call):
    acks = send(adt("A04", "IPP-0100^^^HOSP^PI", control="C1"),
                adt("A08", "IPP-0100^^^HOSP^PI", name="Dupont-Durand^Zoé", control="C2"),
                adt("A01", "!!", control="C3"))
    assert ack_codes(acks) == ["AA", "AA", "AE"]  # a bad identifier is a content error (table 0008)
    assert [str(a.segment("MSA")[2]) for a in acks] == ["C1", "C2", "C3"]
    row = patient_row(call, services, "IPP-0100")
    assert row["family"] == "Dupont-Durand" and row["birth_date"] == "1980-01-02" and row["source"] == "hl7:A08"
    assert row["authority"] == "HOSP" and row["active"] == 1
    actions = [r["action"] for r in call(services.store.fetch_all, "SELECT action FROM audit_entry "
                                         "WHERE patient_id = :p ORDER BY seq", {"p": services.store.fields.pid("IPP-0100")})]
    assert actions == ["patient.index.add", "patient.index.update"]


def test_unknown_patient_waits_in_quarantine_until_the_adt_feed_brings_it(http, services, call):
    sequence_id = _add_sequence(call, services, "IPP-0200")
    assert call(patients.reconcile, services.store, sequence_id)["state"] == "quarantined"
    queue = _queue(http)
    assert list(queue) == [sequence_id] and queue[sequence_id]["reason"] == "unknown"
    assert queue[sequence_id]["candidates"] == []
    assert ack_codes(send(adt("A01", "IPP-0200^^^HOSP^PI"))) == ["AA"]
    row = _identity(call, services, sequence_id)
    assert (row["state"], row["patient_id"], row["decided_by"]) == ("reconciled", "IPP-0200", "hl7:adt")


def test_a40_moves_filed_sequences_and_quarantines_later_claims_of_the_merged_away_identifier(http, services, call):
    send(adt("A01", "IPP-0301^^^HOSP^PI"), adt("A01", "IPP-0302^^^HOSP^PI"))
    moved = _add_sequence(call, services, "IPP-0301")
    assert call(patients.reconcile, services.store, moved)["patient_id"] == "IPP-0301"
    waiting = _add_sequence(call, services, "IPP-0303")  # unknown now; merged away by the A40 below
    assert call(patients.reconcile, services.store, waiting)["reason"] == "unknown"
    acks = send(adt("A40", "IPP-0302^^^HOSP^PI", mrg="IPP-0301^^^HOSP^PI", control="M1"),
                adt("A40", "IPP-0302^^^HOSP^PI", mrg="IPP-0303^^^HOSP^PI", control="M2"))
    assert ack_codes(acks) == ["AA", "AA"]
    row = _identity(call, services, moved)
    assert (row["state"], row["patient_id"], row["claimed_id"]) == ("reconciled", "IPP-0302", "IPP-0301")
    # a phone still using a merged-away identifier works from stale data: a person confirms the survivor
    late = _add_sequence(call, services, "IPP-0301")
    assert (call(patients.reconcile, services.store, late)["state"], _identity(call, services, late)["reason"]) == \
        ("quarantined", "merged")
    queue = _queue(http)
    assert queue[late]["candidates"] == ["IPP-0302"]
    assert queue[waiting]["reason"] == "merged" and queue[waiting]["candidates"] == ["IPP-0302"]
    audit = opened_rows(call, services.store, "SELECT * FROM audit_entry WHERE action IN "
                        "('patient.index.merge', 'sequence.identity.move') ORDER BY seq")
    assert [(a["action"], a["patient_id"]) for a in audit] == [
        ("patient.index.merge", "IPP-0302"), ("sequence.identity.move", "IPP-0302"),
        ("patient.index.merge", "IPP-0302")]
    reasons = [json.loads(e["detail"])["reason"] for e in call(
        services.store.fetch_all, "SELECT detail FROM audit_entry WHERE action = 'sequence.identity.quarantine' "
        "AND object = :o ORDER BY seq", {"o": f"sequence/{waiting}"})]
    assert reasons == ["unknown", "merged"]
    decided = http.post(f"/api/v1/interop/quarantine/{late}", json={"patient_id": "IPP-0302"}, headers=ADMIN_TOKEN)
    assert decided.status_code == 200 and decided.json()["state"] == "reconciled"
    assert _identity(call, services, late)["patient_id"] == "IPP-0302"


def test_a29_withdraws_an_identity_so_new_claims_wait_until_the_hospital_restores_it(http, services, call):
    send(adt("A01", "IPP-0350^^^HOSP^PI"))
    filed = _add_sequence(call, services, "IPP-0350")
    assert call(patients.reconcile, services.store, filed)["state"] == "reconciled"
    assert ack_codes(send(adt("A29", "IPP-0350^^^HOSP^PI"))) == ["AA"]
    assert patient_row(call, services, "IPP-0350")["active"] == 0
    assert _identity(call, services, filed)["state"] == "reconciled"  # what was filed stays filed
    later = _add_sequence(call, services, "IPP-0350")
    assert _identity(call, services, later) is None
    assert call(patients.reconcile, services.store, later)["reason"] == "inactive"
    refused = http.post(f"/api/v1/interop/quarantine/{later}", json={"patient_id": "IPP-0350"}, headers=ADMIN_TOKEN)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "patient_inactive"
    assert ack_codes(send(adt("A08", "IPP-0350^^^HOSP^PI"))) == ["AA"]  # the hospital restates the identity
    assert (_identity(call, services, later)["state"], _identity(call, services, later)["patient_id"]) == \
        ("reconciled", "IPP-0350")
    actions = [r["action"] for r in call(services.store.fetch_all, "SELECT action FROM audit_entry "
                                         "WHERE patient_id = :p ORDER BY seq", {"p": services.store.fields.pid("IPP-0350")})]
    assert "patient.index.deactivate" in actions


def test_an_identifier_two_patients_hold_under_two_authorities_is_ambiguous(http, services, call):
    # IPP-0500 is one patient's identifier at site A, and another patient's at site C
    assert ack_codes(send(adt("A01", "IPP-0500^^^SITE-A^PI", name="Durand^Anne"),
                          adt("A01", "IPP-0600^^^SITE-B^PI~IPP-0500^^^SITE-C^PN", name="Petit^Marc"))) == ["AA", "AA"]
    assert sorted(opened_rows(call, services.store, "SELECT value, authority, patient_id FROM patient_identifier "
                              "WHERE value = :v", {"v": services.store.fields.pid("IPP-0500")}),
                  key=lambda r: r["patient_id"]) == [
        {"value": "IPP-0500", "authority": "SITE-A", "patient_id": "IPP-0500"},
        {"value": "IPP-0500", "authority": "SITE-C", "patient_id": "IPP-0600"}]
    sequence_id = _add_sequence(call, services, "IPP-0500")
    assert call(patients.reconcile, services.store, sequence_id)["reason"] == "ambiguous"
    assert _queue(http)[sequence_id]["candidates"] == ["IPP-0500", "IPP-0600"]
    # a patient's other identifier, held by nobody else, files under that patient
    other = _add_sequence(call, services, "IPP-0601")
    send(adt("A08", "IPP-0600^^^SITE-B^PI~IPP-0500^^^SITE-C^PN~IPP-0601^^^SITE-D^PN", name="Petit^Marc"))
    identity = call(patients.reconcile, services.store, other)
    assert (identity["state"], identity["patient_id"]) == ("reconciled", "IPP-0600")
    # the same identifier as another authority's index identifier is refused, never overwrites the patient
    assert ack_codes(send(adt("A01", "IPP-0500^^^SITE-B^PI", name="Autre^Jean"))) == ["AE"]
    assert patient_row(call, services, "IPP-0500")["family"] == "Durand"
    decided = http.post(f"/api/v1/interop/quarantine/{sequence_id}", json={"patient_id": "IPP-0600"},
                        headers=ADMIN_TOKEN)
    assert decided.json()["state"] == "reconciled"
    entry = opened_rows(call, services.store, "SELECT * FROM audit_entry WHERE action = 'sequence.identity.reconcile' "
                        "AND object = :o", {"o": f"sequence/{sequence_id}"})[-1]
    assert entry["actor"] == "token:interop-admin" and entry["patient_id"] == "IPP-0600"
    assert entry["detail"] == {"claimed_patient_id": "IPP-0500", "reason": "resolved by a user"}


def test_csv_import_carries_authority_and_inactive_identities(http, services, call):
    imported, _ = call(patients.import_csv, services.store,
                       "id,family,authority,active\nIPP-0700,Blanc,HOSP,1\nIPP-0701,Noir,HOSP,0\n")
    assert imported == 2
    rows = [{k: patient_row(call, services, i)[k] for k in ("id", "authority", "active")}  # type: ignore[index]
            for i in ("IPP-0700", "IPP-0701")]
    assert rows == [{"id": "IPP-0700", "authority": "HOSP", "active": 1},
                    {"id": "IPP-0701", "authority": "HOSP", "active": 0}]
    sequence_id = _add_sequence(call, services, "IPP-0701")
    assert call(patients.reconcile, services.store, sequence_id)["reason"] == "inactive"
    with pytest.raises(patients.IdentityError, match="line 2"):
        call(patients.import_csv, services.store, "id,active\nIPP-0702,maybe\n")
    with pytest.raises(patients.IdentityError, match="another assigning authority"):
        call(patients.import_csv, services.store, "id,authority\nIPP-0700,ELSEWHERE\n")


def test_quarantine_decisions_need_the_admin_token_and_a_known_patient(http, services, call):
    sequence_id = _add_sequence(call, services, "IPP-0400")
    call(patients.reconcile, services.store, sequence_id)
    url = f"/api/v1/interop/quarantine/{sequence_id}"
    assert http.post(url, json={"decision": "reject"}).status_code == 401
    unknown = http.post(url, json={"patient_id": "IPP-0401"}, headers=ADMIN_TOKEN)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "patient_unknown"
    rejected = http.post(url, json={"decision": "reject"}, headers=ADMIN_TOKEN)
    assert rejected.json()["state"] == "rejected"
    [entry] = opened_rows(call, services.store, "SELECT * FROM audit_entry WHERE action = 'sequence.identity.reject'")
    assert entry["actor"] == "token:interop-admin" and entry["patient_id"] == "IPP-0400"


def test_interop_is_off_when_not_configured(tmp_path):
    from starlette.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.settings import Settings

    settings = Settings(data_dir=tmp_path / "off", pwa_dir=tmp_path / "no-pwa")
    assert not settings.interop_enabled
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        for path in ("/fhir/r4/Media", "/api/v1/interop/outbox", "/fhir/r4/metadata", "/fhir/r5/metadata",
                     "/fhir/r5/DocumentReference"):
            response = client.get(path, headers={"Authorization": "Bearer anything"})
            assert response.status_code == 404 and error_code(response) == "interop_disabled"
        interop = client.app.state.services.handles["interop"]
        assert interop.outbox._task is None and interop.mllp is None


def _err(ack: Any) -> tuple[str, str, str, str]:
    """(MSA-1, ERR-2 location, ERR-3 code, ERR-4 severity)."""
    err = ack.segment("ERR")
    return str(ack.segment("MSA")[1]), str(err[2]), str(err[3][0][0]), str(err[4])


def _apply_nothing(event: Any) -> Any:
    async def noop() -> None:
        return None
    return noop()


def test_a_frame_without_a_readable_msh_gets_a_minimal_ack_and_the_connection_stays_open(http, services, call):
    acks = send_frames(MLLP_PORT, b"hello", b"MSH|^~\\&|HIS|HOSP|CP|HOSP|20261127||ADT^A04^ADT_A01",
                       adt("A04", "IPP-0800^^^HOSP^PI", control="OK1").encode())
    assert ack_codes(acks) == ["AE", "AE", "AA"]  # the sender must fix the frame: resending it cannot help
    assert [str(a.segment("MSA")[2]) for a in acks] == ["UNKNOWN", "UNKNOWN", "OK1"]
    assert _err(acks[0])[2:] == ("100", "E")
    assert _err(acks[1])[:3] == ("AE", "MSH^1^10", "101")


def test_character_set_follows_msh18_and_the_ack_echoes_it(http, services, call):
    latin = adt("A04", "IPP-0810^^^HOSP^PI", name="Lefèvre^Zoé", control="L1") + "\r"
    latin = latin.replace("|P|2.5\r", "|P|2.5||||||8859/1\r", 1)
    [ack] = send_frames(MLLP_PORT, latin.encode("iso-8859-1"), encoding="iso-8859-1")
    assert ack_codes([ack]) == ["AA"] and str(ack.segment("MSH")[18]) == "8859/1"
    row = patient_row(call, services, "IPP-0810")
    assert (row["family"], row["given"]) == ("Lefèvre", "Zoé")
    # ISO-8859-1 bytes with no MSH-18 under the UTF-8 fallback: an answer the sender can act on, not silence
    undeclared = adt("A04", "IPP-0811^^^HOSP^PI", name="Lefèvre^Zoé", control="L2").encode("iso-8859-1")
    [refused] = send_frames(MLLP_PORT, undeclared)
    assert _err(refused) == ("AE", "MSH^1^18", "102", "E") and str(refused.segment("MSA")[2]) == "L2"
    assert patient_row(call, services, "IPP-0811") is None
    # the configured fallback (CLINPHOTO_HL7_ENCODING) reads it
    reply = asyncio.run(handle_frame(undeclared, _apply_nothing, "iso-8859-1"))
    assert ack_codes([valid_ack(reply, "iso-8859-1")]) == ["AA"]
    unknown = adt("A04", "IPP-0812^^^HOSP^PI").replace("|P|2.5", "|P|2.5||||||KLINGON", 1).encode()
    assert _err(send_frames(MLLP_PORT, unknown)[0])[:3] == ("AE", "MSH^1^18", "103")


def test_ack_codes_follow_table_0008_content_errors_ae_and_rejections_ar(http, services, call):
    acks = send(adt("A04", "IPP-0820^^^HOSP^PI", birth="19801302", control="D1"),
                adt("A04", "IPP-0821^^^HOSP^PI", sex="X"),
                adt("A60", "IPP-0822^^^HOSP^PI"),  # an allergy update: not an event of this feed
                adt("A04", "IPP-0823^^^HOSP^PI").replace("|P|2.5", "|Q|2.5"),
                adt("A04", "IPP-0824^^^HOSP^PI").replace("|P|2.5", "|P|9.9"),
                adt("A04", "IPP-0825^^^HOSP^PI").replace("ADT^A04^ADT_A01", "ORU^R01^ORU_R01"),
                adt("A04", "IPP-0826^^^HOSP^PI", birth="19800230"),
                adt("A04", "IPP-0827^^^HOSP^PI", birth="198001021261"))
    assert [_err(a) for a in acks] == [
        ("AE", "PID^1^7", "102", "E"), ("AE", "PID^1^8", "103", "E"), ("AR", "MSH^1^9^1^2", "201", "E"),
        ("AR", "MSH^1^11", "202", "E"), ("AR", "MSH^1^12", "203", "E"), ("AR", "MSH^1^9^1^1", "200", "E"),
        ("AE", "PID^1^7", "102", "E"), ("AE", "PID^1^7", "102", "E")]
    assert "unsupported event" in str(acks[2].segment("ERR")[8])
    assert str(acks[0].segment("MSA")[2]) == "D1"
    assert not [i for i in range(820, 830) if patient_row(call, services, f"IPP-0{i}")]

    async def broken(event: Any) -> None:
        raise RuntimeError("database gone")
    internal = valid_ack(asyncio.run(handle_frame(adt("A04", "IPP-0829^^^HOSP^PI").encode(), broken)))
    assert _err(internal)[::2] == ("AR", "207")  # not the sender's fault: rejected, resend later


def test_dates_sexes_and_partial_precision_are_stored_as_given(http, services, call):
    assert ack_codes(send(adt("A04", "IPP-0830^^^HOSP^PI", birth="198001021230+0100", sex="A"),
                          adt("A04", "IPP-0831^^^HOSP^PI", birth="1980", sex=""))) == ["AA", "AA"]
    rows = [{k: patient_row(call, services, i)[k] for k in ("id", "birth_date", "sex")}  # type: ignore[index]
            for i in ("IPP-0830", "IPP-0831")]
    assert rows == [{"id": "IPP-0830", "birth_date": "1980-01-02", "sex": "A"},
                    {"id": "IPP-0831", "birth_date": "1980", "sex": None}]


def test_escapes_are_decoded_per_component_after_the_split():
    event = parse_adt(adt("A08", "IPP-0840^^^HOSP^PI", name="Smith\\S\\Jones^Ann\\T\\Marie"))
    assert (event.patient.family, event.patient.given) == ("Smith^Jones", "Ann&Marie")
    event = parse_adt(adt("A08", "IPP-0840^^^HOSP^PI", name="O\\E\\Brien\\F\\X&Van^Jo~Alias^Al"))
    assert (event.patient.family, event.patient.given) == ("O\\Brien|X", "Jo")  # FN-1 surname only


def test_a28_a31_and_a47_are_applied_and_an_a47_onto_another_patient_is_refused(http, services, call):
    assert ack_codes(send(adt("A28", "IPP-0850^^^HOSP^PI", name="Roux^Léa"),
                          adt("A31", "IPP-0850^^^HOSP^PI", name="Roux-Blanc^Léa"),
                          adt("A05", "IPP-0852^^^HOSP^PI", name="Vert^Ana"))) == ["AA", "AA", "AA"]
    assert patient_row(call, services, "IPP-0850")["family"] == "Roux-Blanc"
    filed = _add_sequence(call, services, "IPP-0850")
    assert call(patients.reconcile, services.store, filed)["patient_id"] == "IPP-0850"
    changed = send(adt("A47", "IPP-0851^^^HOSP^PI", name="Roux-Blanc^Léa", mrg="IPP-0850^^^HOSP^PI"))
    assert ack_codes(changed) == ["AA"]
    assert _identity(call, services, filed)["patient_id"] == "IPP-0851"
    assert patient_row(call, services, "IPP-0850")["merged_into"] == "IPP-0851"
    clash = send(adt("A47", "IPP-0852^^^HOSP^PI", mrg="IPP-0851^^^HOSP^PI"))
    assert _err(clash[0])[::2] == ("AE", "205")
    assert patient_row(call, services, "IPP-0851")["merged_into"] is None


def test_a_frame_over_the_size_limit_and_a_bad_message_time_are_answered(http, services, call):
    from sync_server.interop.hl7v2 import FRAME_LIMIT

    huge = adt("A04", "IPP-0860^^^HOSP^PI", name="X" * (FRAME_LIMIT + 10) + "^Y").encode()
    bad_time = adt("A04", "IPP-0861^^^HOSP^PI").replace("|20261127100000||ADT", "|20261327100000||ADT").encode()
    acks = send_frames(MLLP_PORT, huge, bad_time, adt("A04", "IPP-0862^^^HOSP^PI", control="OK2").encode())
    assert [_err(a)[:3] for a in acks[:2]] == [("AE", "", "100"), ("AE", "MSH^1^7", "102")]
    assert ack_codes(acks[2:]) == ["AA"] and str(acks[2].segment("MSA")[2]) == "OK2"


def test_other_identifiers_a_phone_cannot_carry_are_left_out_not_refused():
    event = parse_adt(adt("A04", "IPP-0870^^^HOSP^PI~1 80 01 75 123 456 78^^^NIR^SS~IPP-0871^^^SITE^PN"))
    assert event.patient.id == "IPP-0870" and event.patient.other_ids == (("IPP-0871", "SITE"),)
