"""Consent changes: a written reason, the history kept, the audit with old and new levels."""
from __future__ import annotations

from sync_server.storage.fields import open_form

import pytest

from tests.clinical.conftest import PATIENT, open_glass, restrict


def _codes(response):
    return response.status_code, response.json()["error"]["code"]


def test_consent_change_keeps_the_history_and_audits_old_and_new(file_sequence, surgeon, audit, services, call):
    filed = file_sequence()
    url = f"/api/v1/sequences/{filed.sequence_id}/consent"
    first = surgeon.post(url, json={"level": "publication", "reason": "Signed publication form at follow-up"})
    assert first.status_code == 200, first.text
    assert first.json()["consent"] == "publication" and first.json()["id"] == filed.sequence_id
    second = surgeon.post(url, json={"level": "withdrawn", "reason": "  Patient withdrew by letter  "})
    body = second.json()
    assert body["consent"] == "withdrawn"
    assert [(h["previous"], h["level"], h["reason"]) for h in body["consent_history"]] == [
        ("record", "publication", "Signed publication form at follow-up"),
        ("publication", "withdrawn", "Patient withdrew by letter")]
    assert body["consent_history"][0]["changed_by"] == f"user:{surgeon.id}"
    timeline = surgeon.get(f"/api/v1/patients/{PATIENT['id']}/sequences").json()
    assert timeline["sequences"][0]["consent"] == "withdrawn"
    entries = audit("sequence.consent")
    assert [(e["detail"]["old"], e["detail"]["new"]) for e in entries] == [("record", "publication"),
                                                                          ("publication", "withdrawn")]
    assert all(e["patient_id"] == PATIENT["id"] and e["outcome"] == "0" for e in entries)
    stored = call(services.store.fetch_val, "SELECT form FROM sequence WHERE id = :id", {"id": filed.sequence_id})
    assert open_form(services.keys, filed.sequence_id, stored)["consent"] == "record"  # the form as captured is kept


@pytest.mark.parametrize("body", [{"level": "teaching"}, {"level": "teaching", "reason": "ok"},
                                  {"level": "teaching", "reason": "     x     "}, {"level": "everything", "reason": "Because I say so"},
                                  {"reason": "Patient asked"}, {"level": "teaching", "reason": 12345},
                                  {"level": "teaching", "reason": "Patient asked", "extra": 1}, ["teaching"]])
def test_a_change_needs_a_known_level_and_a_reason(file_sequence, surgeon, audit, body):
    filed = file_sequence()
    response = surgeon.post(f"/api/v1/sequences/{filed.sequence_id}/consent", json=body)
    assert _codes(response) == (422, "reason_required")
    refusal = audit("sequence.consent")[-1]
    assert refusal["outcome"] == "4" and refusal["patient_id"] == PATIENT["id"]


def test_unknown_malformed_and_unauthorised_changes(file_sequence, surgeon, person):
    filed = file_sequence()
    good = {"level": "teaching", "reason": "Patient agreed in clinic"}
    assert _codes(surgeon.post("/api/v1/sequences/00000000-0000-4000-8000-000000000000/consent", json=good)) == (
        404, "sequence_not_found")
    assert _codes(surgeon.post("/api/v1/sequences/nope/consent", json=good)) == (400, "invalid_id")
    bad_json = surgeon.post(f"/api/v1/sequences/{filed.sequence_id}/consent", content=b"{",
                            headers={"Content-Type": "application/json"})
    assert _codes(bad_json) == (400, "malformed_json")
    for role in ("nurse", "security_officer", "administrator"):
        assert _codes(person(role).post(f"/api/v1/sequences/{filed.sequence_id}/consent", json=good)) == (403, "forbidden")
    restrict(person("security_officer"), PATIENT["id"])
    url = f"/api/v1/sequences/{filed.sequence_id}/consent"
    assert _codes(surgeon.post(url, json=good)) == (403, "patient_restricted")
    open_glass(surgeon)
    assert surgeon.post(url, json=good).json()["consent"] == "teaching"
