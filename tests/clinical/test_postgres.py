"""The data layer of the workspace (migration 0007, consent history, search, timeline, figures) on both
databases: the same flow on SQLite and on a real PostgreSQL."""
from __future__ import annotations

import pytest

from tests.clinical.conftest import PATIENT
from tests.conftest import both_backends


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def test_search_timeline_consent_recent_and_figures(file_sequence, indexed, surgeon, audit):
    filed = file_sequence(surgeon="Dr House", performed_on="2026-05-02")
    file_sequence(patient_id="IPP-9003", seed=1)
    assert [p["id"] for p in surgeon.get("/api/v1/patients", params={"q": "héLENE"}).json()["patients"]] == [PATIENT["id"]]
    changed = surgeon.post(f"/api/v1/sequences/{filed.sequence_id}/consent",
                           json={"level": "publication", "reason": "Signed the publication form"})
    assert changed.status_code == 200 and changed.json()["consent_history"][0]["previous"] == "record"
    timeline = surgeon.get(f"/api/v1/patients/{PATIENT['id']}/sequences").json()
    assert timeline["sequences"][0]["consent"] == "publication" and timeline["patient"]["photos"] == 2
    assert surgeon.get("/api/v1/patients/IPP-9003").status_code == 200
    assert [p["id"] for p in surgeon.get("/api/v1/patients/recent").json()["patients"]] == ["IPP-9003", PATIENT["id"]]
    figures = surgeon.get("/api/v1/stats").json()
    assert (figures["patients"], figures["sequences"], figures["photos"]) == (2, 2, 4)
    assert {r["key"] for r in figures["by_surgeon"]} == {"Dr House", "(not given)"}
    assert audit("sequence.consent")[-1]["detail"]["new"] == "publication"
