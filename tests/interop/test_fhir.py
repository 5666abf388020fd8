"""The FHIR read API of a real `clinphoto serve` (R4, and R5 turned on), queried by a standard FHIR client (fhirpy)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.documentreference import DocumentReference
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.patient import Patient
from fhirpy import SyncFHIRClient
from crypto import KeyStore

from sync_server.storage.fields import PatientFields

from tests.conftest import Batch
from tests.interop.conftest import PATIENTS_CSV, error_code, sync
from tests.support.waiting import wait_for
from tests.support.client import SyncClient
from tests.support.server import ServerProcess

TOKEN = "fhir-token-for-tests"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", CLINPHOTO_FHIR_TOKEN=TOKEN, CLINPHOTO_PWA_DIR=str(tmp_path / "no-pwa"),
                            CLINPHOTO_FHIR_R5="1")
    csv_file = tmp_path / "patients.csv"
    csv_file.write_text(PATIENTS_CSV)
    assert "2 patients imported" in process.cli("import-patients", str(csv_file))
    process.start()
    yield process
    process.stop()


def _sync(server: ServerProcess, count: int, captured_at: str | None = None) -> Batch:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        device = SyncClient(http)
        assert device.enroll(server.enrollment_code()).status_code == 201
        batch = Batch(device, count)
        for entry in batch.manifest["photos"] if captured_at else []:
            entry["captured_at"] = captured_at
        sync(device, batch)
    return batch


def _searchable(server: ServerProcess, count: int) -> None:
    wait_for(lambda: _get(server, "/fhir/r4/Media", patient="IPP-0042", _count="0")["total"] == count,
             what=f"{count} photos verified and searchable")


@pytest.fixture
def synced(server: ServerProcess) -> Batch:
    return _sync(server, 2)


def _fhir(server: ServerProcess, version: str = "r4") -> SyncFHIRClient:
    return SyncFHIRClient(f"{server.url}/fhir/{version}", authorization=f"Bearer {TOKEN}")


def _get(server: ServerProcess, path: str, **params: str) -> dict[str, Any]:
    response = httpx.get(server.url + path if path.startswith("/") else path, params=params or None,
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


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

    fields = PatientFields(KeyStore.open(server.data_dir / "keys"))  # the audit's patients are stored sealed
    with sqlite3.connect(server.data_dir / "clinphoto.db") as db:
        reads = [(action, actor, fields.open_pid(patient_id)) for action, actor, patient_id in db.execute(
            "SELECT action, actor, patient_id FROM audit_entry WHERE action LIKE 'fhir.%'").fetchall()]
    assert ("fhir.read", "token:fhir", "IPP-0042") in reads and ("fhir.search", "token:fhir", "IPP-0077") in reads
    assert all(patient_id for action, _, patient_id in reads if action == "fhir.read")


def test_the_fhir_api_refuses_a_wrong_token_and_bad_search(server):
    wrong = httpx.get(server.url + "/fhir/r4/Patient/IPP-0042", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and error_code(wrong) == "interop_unauthenticated"
    assert httpx.get(server.url + "/fhir/r4/Patient/IPP-0042").status_code == 401
    bad = httpx.get(server.url + "/fhir/r4/Media", params={"_text": "x"},
                    headers={"Authorization": f"Bearer {TOKEN}", "Prefer": "handling=strict"})
    assert bad.status_code == 400 and error_code(bad) == "fhir_search_invalid"
    metadata = httpx.get(server.url + "/fhir/r4/metadata", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert metadata["fhirVersion"] == "4.0.1"


def test_count_pages_with_total_links_and_a_cursor_that_new_photos_do_not_shift(server):
    batch = _sync(server, 5)
    _searchable(server, 5)
    client = _fhir(server)
    search = client.resources("Media").search(patient="IPP-0042")
    assert len(search.limit(2).fetch()) == 2
    assert sorted(m.id for m in search.limit(2).fetch_all()) == sorted(p.photo_id for p in batch.photos)
    assert search.count() == 5

    first = _get(server, "/fhir/r4/Media", patient="IPP-0042", _count="2")
    Bundle.model_validate(first)
    assert first["total"] == 5 and len(_ids(first)) == 2
    assert set(_links(first)) == {"self", "first", "next"}
    second = _get(server, _links(first)["next"])
    assert set(_links(second)) == {"self", "first", "next", "previous"} and len(_ids(second)) == 2
    # a photo taken earlier arrives while the EMR pages: it sorts first, yet no page repeats or skips one
    _sync(server, 1, captured_at="2020-01-01T00:00:00Z")
    _searchable(server, 6)
    third = _get(server, _links(second)["next"])
    assert third["total"] == 6 and "next" not in _links(third)
    assert sorted(_ids(first) + _ids(second) + _ids(third)) == sorted(p.photo_id for p in batch.photos)
    assert _ids(_get(server, _links(third)["previous"])) == _ids(second)
    assert len(_ids(_get(server, _links(third)["first"]))) == 2

    only_total = _get(server, "/fhir/r4/Media", patient="IPP-0042", _count="0")
    assert only_total["total"] == 6 and "entry" not in only_total
    for params in ({"_count": "-1"}, {"_count": "many"}, {"_cursor": "a.bm90IGpzb24"}, {"_cursor": "z.W10"}):
        bad = httpx.get(server.url + "/fhir/r4/Media", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
        assert bad.status_code == 400 and error_code(bad) == "fhir_search_invalid", params
    patients = _get(server, "/fhir/r4/Patient", _count="1")  # in the order of the stored (sealed) identifiers
    assert patients["total"] == 2 and len(_ids(patients)) == 1
    assert sorted(_ids(patients) + _ids(_get(server, _links(patients)["next"]))) == ["IPP-0042", "IPP-0077"]


def test_r5_serves_each_photo_as_a_document_reference(server, synced):
    _searchable(server, 2)
    client = _fhir(server, "r5")
    found = client.resources("DocumentReference").search(patient="IPP-0042").limit(1).fetch_all()
    assert sorted(d.id for d in found) == sorted(p.photo_id for p in synced.photos)
    for resource in found:
        parsed = DocumentReference.model_validate(resource.serialize())
        assert parsed.subject.reference == "Patient/IPP-0042" and parsed.status == "current"
        assert parsed.bodySite[0].concept.coding[0].code == "45206002"
        assert parsed.modality[0].coding[0].code == "XC"
        assert parsed.content[0].attachment.contentType == "image/jpeg"
        assert resource.serialize()["content"][0]["attachment"]["size"].isdigit()  # integer64: a JSON string
        view = next(e for e in parsed.extension if e.url.endswith("extension-Media.view"))
        assert view.valueCodeableConcept.coding[0].system == "http://snomed.info/sct"
    one = client.reference("DocumentReference", synced.photos[0].photo_id).to_resource()
    assert one.id == synced.photos[0].photo_id
    bundle = _get(server, "/fhir/r5/DocumentReference", creation="ge2000-01-01", _count="1")
    assert BundleR5.model_validate(bundle).total == 2
    assert client.reference("Patient", "IPP-0077").to_resource()["name"][0]["family"] == "Martin"
    assert _get(server, "/fhir/r5/metadata")["fhirVersion"] == "5.0.0"
    media_param = httpx.get(server.url + "/fhir/r5/DocumentReference", params={"created": "2020"},
                            headers={"Authorization": f"Bearer {TOKEN}", "Prefer": "handling=strict"})
    assert media_param.status_code == 400  # R5 names the capture date "creation"
