"""Patient search, recent patients, one patient and the timeline: answers, refusals, audit."""
from __future__ import annotations

import pytest

from tests.clinical.conftest import PATIENT, open_glass, restrict


def _codes(response):
    return response.status_code, response.json()["error"]["code"]


def test_search_by_name_prefix_ignores_case_and_accents_and_by_exact_identifier(file_sequence, indexed, surgeon, audit):
    file_sequence(surgeon="Dr House")
    for q in ("dupre", "DUP hel", "Hélène Dupré", PATIENT["id"]):
        found = surgeon.get("/api/v1/patients", params={"q": q})
        assert found.status_code == 200, found.text
        [patient] = found.json()["patients"]
        assert patient == {**PATIENT, "restricted": False, "sequences": 1, "photos": 2,
                           "last_taken_at": patient["last_taken_at"]} and patient["last_taken_at"]
    assert surgeon.get("/api/v1/patients", params={"q": "upre"}).json()["patients"] == []
    assert surgeon.get("/api/v1/patients", params={"q": "IPP-731"}).json()["patients"] == []  # exact, not prefix
    narrowed = surgeon.get("/api/v1/patients", params={"q": "dupre", "birth_date": "1961-04-18"})
    assert narrowed.json()["patients"] == []
    entry = audit("patient.search")[-1]
    assert entry["outcome"] == "0" and entry["actor"] == f"user:{surgeon.id}"
    assert audit("patient.search")[0]["patient_id"] == PATIENT["id"]  # one patient found: named in the entry
    assert audit("patient.search")[0]["detail"]["patients"] == [PATIENT["id"]]


def test_a_patient_known_only_from_filed_sequences_is_found_by_identifier(file_sequence, surgeon):
    file_sequence(patient_id="IPP-9001")
    [patient] = surgeon.get("/api/v1/patients", params={"q": "IPP-9001"}).json()["patients"]
    assert patient["id"] == "IPP-9001" and patient["family"] is None and patient["sequences"] == 1
    assert surgeon.get("/api/v1/patients", params={"q": "IPP-0000"}).json()["patients"] == []


@pytest.mark.parametrize("query", ["", "q=", "q=a&birth_date=1961-13-01", "q=a&birth_date=17/04/1961", "q=a&x=1",
                                   "q=a&q=b", "q=" + "a" * 101])
def test_bad_search_queries_are_refused_with_a_stable_code(surgeon, query, audit):
    response = surgeon.get(f"/api/v1/patients?{query}")
    assert _codes(response) == (400, "clinical_query_invalid")
    assert audit("http.get")[-1]["detail"]["code"] == "clinical_query_invalid"


def test_the_timeline_carries_protocol_completeness_taker_consent_and_photos(file_sequence, indexed, surgeon, audit):
    older = file_sequence(views=["frontal", "right_lateral"], surgeon="Dr House", performed_on="2026-10-01")
    newer = file_sequence(views=["overview", "close_up"], seed=1, view_protocol="lesion", procedure="skin_tumour_excision",
                          anatomical_region="back", laterality="left", timing={"phase": "post_op", "delay_days": 30},
                          note="Healing well")
    response = surgeon.get(f"/api/v1/patients/{PATIENT['id']}/sequences")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["patient"]["id"] == PATIENT["id"] and body["patient"]["sequences"] == 2
    first, second = body["sequences"]  # newest first (same capture second: the ids order ties, so check the set)
    assert {first["id"], second["id"]} == {older.sequence_id, newer.sequence_id}
    by_id = {s["id"]: s for s in body["sequences"]}
    lesion, rhino = by_id[newer.sequence_id], by_id[older.sequence_id]
    assert lesion["protocol"] == {"id": "lesion", "expected": ["overview", "close_up"],
                                  "present": ["overview", "close_up"], "complete": True}
    assert rhino["protocol"]["complete"] is False and rhino["protocol"]["present"] == ["frontal", "right_lateral"]
    assert rhino["protocol"]["expected"][:2] == ["frontal", "right_lateral"] and len(rhino["protocol"]["expected"]) == 6
    assert lesion["delay"] == {"value": 30, "unit": "day"} and lesion["phase"] == "post_op"
    assert lesion["laterality"] == "left" and lesion["note"] == "Healing well"
    assert lesion["procedure"] == {"code": "skin_tumour_excision", "label_en": "Skin tumour excision",
                                   "label_fr": "Exérèse de tumeur cutanée"}
    assert rhino["taken_by"] == {"id": None, "name": "Dr House"} and lesion["taken_by"]["name"] is None
    assert rhino["consent"] == "record" and rhino["performed_on"] == "2026-10-01"
    photo = rhino["photos"][0]
    assert photo["id"] in older.photo_ids and photo["state"] == "verified" and photo["width"] == 320
    assert photo["view_label"] == {"en": "Frontal", "fr": "Face"}
    read = audit("patient.read")[-1]
    assert read["patient_id"] == PATIENT["id"] and read["detail"]["view"] == "sequences" and read["outcome"] == "0"


def test_one_patient_and_the_recent_list_most_recent_first(file_sequence, indexed, surgeon, person):
    file_sequence()
    file_sequence(patient_id="IPP-9002", seed=2)
    assert surgeon.get("/api/v1/patients/recent").json() == {"patients": []}
    assert surgeon.get(f"/api/v1/patients/{PATIENT['id']}").json()["family"] == "Dupré"
    assert surgeon.get("/api/v1/patients/IPP-9002/sequences").status_code == 200
    assert [p["id"] for p in surgeon.get("/api/v1/patients/recent").json()["patients"]] == ["IPP-9002", PATIENT["id"]]
    assert surgeon.get(f"/api/v1/patients/{PATIENT['id']}").status_code == 200
    assert [p["id"] for p in surgeon.get("/api/v1/patients/recent").json()["patients"]] == [PATIENT["id"], "IPP-9002"]
    other = person("surgeon", name="Dr Other")
    assert other.get("/api/v1/patients/recent").json() == {"patients": []}  # each person's own list


def test_unknown_and_malformed_patients(surgeon, audit):
    assert _codes(surgeon.get("/api/v1/patients/IPP-4040")) == (404, "patient_not_found")
    refused = audit("patient.read")[-1]
    assert refused["outcome"] == "4" and refused["patient_id"] == "IPP-4040"
    assert _codes(surgeon.get("/api/v1/patients/IPP-4040/sequences")) == (404, "patient_not_found")
    assert _codes(surgeon.get("/api/v1/patients/a_b!/sequences")) == (400, "patient_id_invalid")
    assert _codes(surgeon.get("/api/v1/patients/x")) == (400, "patient_id_invalid")


@pytest.mark.parametrize("role", ["nurse", "security_officer", "administrator"])
def test_roles_other_than_surgeon_are_refused(file_sequence, person, role, audit):
    file_sequence()
    who = person(role)
    for url in ("/api/v1/patients?q=dupre", "/api/v1/patients/recent", f"/api/v1/patients/{PATIENT['id']}",
                f"/api/v1/patients/{PATIENT['id']}/sequences"):
        assert _codes(who.get(url)) == (403, "forbidden")
    assert not audit("patient.read")


def test_an_officer_inside_break_glass_reads_and_the_reason_is_audited(file_sequence, indexed, person, audit):
    file_sequence()
    officer = person("security_officer")
    open_glass(officer)
    assert officer.get(f"/api/v1/patients/{PATIENT['id']}/sequences").status_code == 200
    read = audit("patient.read")[-1]
    assert read["detail"]["break_glass"] is True and read["patient_id"] == PATIENT["id"]
    assert "ICU" in read["detail"]["reason"]


def test_restricted_patients_need_break_glass_even_for_surgeons(file_sequence, indexed, surgeon, person, audit):
    file_sequence()
    restrict(person("security_officer"), PATIENT["id"])
    for url in (f"/api/v1/patients/{PATIENT['id']}", f"/api/v1/patients/{PATIENT['id']}/sequences"):
        assert _codes(surgeon.get(url)) == (403, "patient_restricted")
    refusal = audit("patient.read")[-1]
    assert refusal["outcome"] == "4" and refusal["patient_id"] == PATIENT["id"]
    assert refusal["detail"]["code"] == "patient_restricted"
    [hidden] = surgeon.get("/api/v1/patients", params={"q": PATIENT["id"]}).json()["patients"]
    assert hidden["restricted"] is True and hidden["family"] is None and hidden["birth_date"] is None
    assert surgeon.get("/api/v1/patients", params={"q": "dupre"}).json()["patients"][0]["given"] is None
    open_glass(surgeon)
    opened = surgeon.get(f"/api/v1/patients/{PATIENT['id']}/sequences")
    assert opened.status_code == 200 and opened.json()["patient"]["family"] == "Dupré"
    assert audit("patient.read")[-1]["detail"]["break_glass"] is True


def test_names_with_accented_initials_hyphens_and_particles(surgeon, services, call):
    from sync_server.interop.patients import Patient, upsert

    async def put() -> None:
        async with services.store.write() as db:
            await upsert(db, Patient(id="IPP-5501", family="Le Gall-Hervé", given="Élodie", birth_date="1990-02-03"),
                         source="test", actor="test")
            await upsert(db, Patient(id="IPP-5502", family="Legrand", given="Elodie"), source="test", actor="test")
    call(put)
    def ids(q: str) -> list[str]:
        return [p["id"] for p in surgeon.get("/api/v1/patients", params={"q": q}).json()["patients"]]
    assert ids("elodie gall") == ["IPP-5501"]
    assert ids("HERVE") == ["IPP-5501"]
    assert sorted(ids("élo")) == ["IPP-5501", "IPP-5502"]
    assert ids("le") == ["IPP-5501", "IPP-5502"]  # "Le" and "Legrand": ordered by family name
    assert ids("gal") == ["IPP-5501"] and ids("all") == []  # prefixes of words, not any substring


def test_an_identifier_not_in_todays_list_is_filed_flagged_unverified_and_audited(file_sequence, indexed, surgeon,
                                                                                 audit):
    confirmed = file_sequence(patient_verified=True)
    unverified = file_sequence(seed=1, patient_verified=False)
    before_the_list = file_sequence(seed=2)
    by_id = {s["id"]: s for s in surgeon.get(f"/api/v1/patients/{PATIENT['id']}/sequences").json()["sequences"]}
    assert by_id[confirmed.sequence_id]["patient_verified"] is True
    assert by_id[unverified.sequence_id]["patient_verified"] is False  # filed, never dropped; flagged
    assert by_id[before_the_list.sequence_id]["patient_verified"] is None
    created = {e["object"]: e["detail"] for e in audit("sequence.create")}
    assert created[f"sequence/{unverified.sequence_id}"]["patient_verified"] is False
    assert "patient_verified" not in created[f"sequence/{confirmed.sequence_id}"]
