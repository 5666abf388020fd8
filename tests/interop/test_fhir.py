"""The FHIR R4 read API of a real `clinphoto serve`, queried by a standard FHIR client (fhirpy)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.patient import Patient
from fhirpy import SyncFHIRClient

from tests.conftest import Batch
from tests.interop.conftest import PATIENTS_CSV, sync, wait_for
from tests.support.client import SyncClient
from tests.support.server import ServerProcess

TOKEN = "fhir-token-for-tests"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", CLINPHOTO_FHIR_TOKEN=TOKEN, CLINPHOTO_PWA_DIR=str(tmp_path / "no-pwa"))
    csv_file = tmp_path / "patients.csv"
    csv_file.write_text(PATIENTS_CSV)
    assert "2 patients imported" in process.cli("import-patients", str(csv_file))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def synced(server: ServerProcess) -> Batch:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        device = SyncClient(http)
        assert device.enroll(server.enrollment_code()).status_code == 201
        batch = Batch(device, 2)
        sync(device, batch)
    return batch


def _fhir(server: ServerProcess) -> SyncFHIRClient:
    return SyncFHIRClient(server.url + "/fhir/r4", authorization=f"Bearer {TOKEN}")


def test_an_emr_finds_a_patients_photos_with_a_standard_fhir_client(server, synced):
    client = _fhir(server)
    media = wait_for(lambda: client.resources("Media").search(subject="Patient/IPP-0042").fetch_all()
                     if len(client.resources("Media").search(patient="IPP-0042").fetch_all()) == 2 else None,
                     what="both photos verified and searchable")
    assert sorted(m.id for m in media) == sorted(p.photo_id for p in synced.photos)
    for resource in media:
        parsed = Media.model_validate(resource.serialize())
        assert parsed.subject.reference == "Patient/IPP-0042"
        assert parsed.view.coding[0].system == "http://snomed.info/sct"
        assert parsed.bodySite.coding[0].code == "45206002"
        assert parsed.content.contentType == "image/jpeg"
    one = client.reference("Media", synced.photos[0].photo_id).to_resource()
    assert one.id == synced.photos[0].photo_id
    by_identifier = client.resources("Media").search(identifier=f"urn:ietf:rfc:3986|urn:uuid:{one.id}").fetch_all()
    assert [m.id for m in by_identifier] == [one.id]
    assert client.resources("Media").search(created__ge="2000-01-01").fetch_all()
    assert client.resources("Media").search(created__lt="2000-01-01").fetch_all() == []
    assert client.resources("Media").search(subject="Patient/IPP-0077").fetch_all() == []

    patient = client.reference("Patient", "IPP-0042").to_resource()
    parsed_patient = Patient.model_validate(patient.serialize())
    assert parsed_patient.name[0].family == "Dupont" and str(parsed_patient.birthDate) == "1980-01-02"
    found = client.resources("Patient").search(identifier="urn:clinphoto:patient-id|IPP-0077").fetch_all()
    assert [p.id for p in found] == ["IPP-0077"]

    raw = httpx.get(server.url + "/fhir/r4/Media", params={"patient": "IPP-0042"},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert raw.headers["content-type"].startswith("application/fhir+json")
    assert Bundle.model_validate(raw.json()).type == "searchset"

    with sqlite3.connect(server.data_dir / "clinphoto.db") as db:
        reads = db.execute("SELECT action, actor, patient_id FROM audit_entry WHERE action LIKE 'fhir.%'").fetchall()
    assert ("fhir.read", "token:fhir", "IPP-0042") in reads and ("fhir.search", "token:fhir", "IPP-0077") in reads
    assert all(patient_id for action, _, patient_id in reads if action == "fhir.read")


def test_the_fhir_api_refuses_a_wrong_token_and_bad_search(server):
    wrong = httpx.get(server.url + "/fhir/r4/Patient/IPP-0042", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "interop_unauthenticated"
    assert httpx.get(server.url + "/fhir/r4/Patient/IPP-0042").status_code == 401
    bad = httpx.get(server.url + "/fhir/r4/Media", params={"_text": "x"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "fhir_search_invalid"
    metadata = httpx.get(server.url + "/fhir/r4/metadata", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert metadata["fhirVersion"] == "4.0.1"
