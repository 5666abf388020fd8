"""Photos reach a real Orthanc by STOW-RS through the outbox; found by QIDO-RS, bytes equal by WADO-RS."""
from __future__ import annotations

import json

import io
import re
from typing import Any, Callable

import httpx
import pydicom
import pytest
from pydicom.encaps import generate_frames

from sync_server.interop import fhir
from sync_server.interop.dicom import VL_PHOTOGRAPHIC_IMAGE
from sync_server.interop.uids import instance_uid, series_uid, study_uid
from sync_server.strip import strip_jpeg_metadata
from tests.interop.conftest import ADMIN, ack_codes, adt, send_mllp, sync
from tests.support.waiting import wait_for
from tests.interop.dciodvfy import errors
from tests.interop.orthanc import Orthanc
from tests.support.patients import rows as opened_rows
from tests.conftest import both_backends
from tests.support.server import free_port

MLLP_PORT = free_port()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


@pytest.fixture
def interop_settings(orthanc: Orthanc) -> dict[str, Any]:
    return {"dicomweb_url": orthanc.dicomweb, "orthanc_url": orthanc.url, "interop_admin_token": "admin-token",
            "outbox_retry_seconds": 1, "outbox_retry_max_seconds": 2, "hl7_mllp_port": MLLP_PORT}


def _outbox(call: Callable[..., Any], services: Any) -> dict[str, dict[str, Any]]:
    rows = opened_rows(call, services.store, "SELECT * FROM interop_outbox")
    return {r["photo_id"]: r for r in rows}


def _all_sent(call: Callable[..., Any], services: Any, photos: list[Any]) -> bool:
    rows = _outbox(call, services)
    return all(rows.get(p.photo_id, {}).get("state") == "sent" for p in photos)


def _wado_instance(orthanc: Orthanc, sequence_id: str, photo_id: str) -> pydicom.Dataset:
    url = (f"{orthanc.dicomweb}/studies/{study_uid(sequence_id)}/series/{series_uid(sequence_id)}"
           f"/instances/{instance_uid(photo_id)}")
    response = httpx.get(url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}, timeout=30)
    assert response.status_code == 200
    boundary = re.search(r'boundary="?([^";]+)"?', response.headers["content-type"]).group(1).encode()
    part = response.content.split(b"--" + boundary)[1]
    body = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    return pydicom.dcmread(io.BytesIO(body))


def _qido(orthanc: Orthanc, path: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(orthanc.dicomweb + path, params=params, timeout=30)
    assert response.status_code in (200, 204)
    return response.json() if response.content else []


def test_photos_are_stored_in_the_pacs_found_by_qido_and_retrieved_bit_exact(
        orthanc, index, device, batch_of, call, services, http):
    batch = batch_of(3)
    sync(device, batch)
    wait_for(lambda: _all_sent(call, services, batch.photos), what="outbox delivery")

    studies = _qido(orthanc, "/studies", PatientID="IPP-0042")
    assert [s["0020000D"]["Value"][0] for s in studies] == [study_uid(batch.sequence_id)]
    instances = _qido(orthanc, f"/studies/{study_uid(batch.sequence_id)}/instances")
    assert sorted(i["00080018"]["Value"][0] for i in instances) == sorted(instance_uid(p.photo_id) for p in batch.photos)

    for photo in batch.photos:
        ds = _wado_instance(orthanc, batch.sequence_id, photo.photo_id)
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        # the original JPEG byte for byte, less its camera metadata (pixels untouched, sync_server/strip.py);
        # DICOM pads an odd-length fragment with one 0x00 after EOI
        sent = strip_jpeg_metadata(photo.plaintext)
        assert b"Exif" in photo.plaintext and b"Exif" not in sent
        assert frame[:len(sent)] == sent
        assert frame[len(sent):] in (b"", b"\x00")
        assert ds.SOPClassUID == VL_PHOTOGRAPHIC_IMAGE and ds.Modality == "XC"
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
        assert ds.PatientID == "IPP-0042" and str(ds.PatientName) == "Dupont^Zoé"
        assert ds.RecognizableVisualFeatures == "YES"  # nose: a face view
        assert ds.AnatomicRegionSequence[0].CodeValue == "45206002"
        assert ds.AcquisitionContextSequence[0].ConceptCodeSequence[0].CodingSchemeDesignator == "SCT"  # the view
        assert ds.AcquisitionDateTime
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert errors(buffer.getvalue()) == []  # dciodvfy on the instance as the PACS holds it
        # the FHIR Media url of this photo answers what its contentType says
        form = {"sequence_id": batch.sequence_id}
        media = fhir.media({"id": photo.photo_id, "mime": "image/jpeg", "captured_at": "2026-01-01T00:00:00Z",
                            "view": "frontal"}, form, "IPP-0042", system="urn:x", wado_base=orthanc.dicomweb)
        rendition = httpx.get(media["content"]["url"], headers={"Accept": media["content"]["contentType"]},
                              timeout=30)
        assert rendition.status_code == 200 and rendition.headers["content-type"].startswith("image/jpeg")
        assert rendition.content[:2] == b"\xff\xd8"
        assert not any("GPS" in e.keyword or "Geolocation" in e.keyword for e in ds.iterall() if e.keyword)

    response = http.get("/api/v1/interop/outbox", headers=ADMIN)
    status = response.json()
    assert response.status_code == 200, status
    assert status["enabled"] and status["counts"] == {"sent": 3} and status["unsent"] == []


def test_pacs_outage_waits_and_delivers_exactly_once_when_back(orthanc, index, device, batch_of, call, services):
    orthanc.stop()
    batch = batch_of(2)
    sync(device, batch)
    wait_for(lambda: all(r["attempts"] >= 2 and r["state"] == "pending" for r in _outbox(call, services).values())
             and len(_outbox(call, services)) == 2, what="failed attempts while the PACS is down")
    failures = opened_rows(call, services.store,
                    "SELECT * FROM audit_entry WHERE action = 'interop.pacs.store' AND outcome = '8'")
    assert failures and all(f["patient_id"] == "IPP-0042" for f in failures)

    orthanc.start()
    wait_for(lambda: _all_sent(call, services, batch.photos), what="delivery after the PACS is back")
    # deliver again as after a crash between the PACS's answer and our commit: the same instances
    call(services.store.execute, "UPDATE interop_outbox SET state = 'pending', next_attempt_at = '2000-01-01T00:00:00.000000Z'")
    services.handles["interop"].outbox.wake()
    wait_for(lambda: _all_sent(call, services, batch.photos), what="second delivery")
    instances = _qido(orthanc, f"/studies/{study_uid(batch.sequence_id)}/instances")
    assert len(instances) == 2
    assert len(httpx.get(orthanc.url + "/instances", timeout=10).json()) == 2


def test_unknown_patient_is_quarantined_and_sent_only_once_resolved(orthanc, index, device, batch_of, call, services, http):
    batch = batch_of(1, patient_id="IPP-9999")
    sync(device, batch)
    queue = wait_for(lambda: http.get("/api/v1/interop/quarantine", headers=ADMIN).json()["sequences"],
                     what="quarantine")
    assert [q["sequence_id"] for q in queue] == [batch.sequence_id] and queue[0]["reason"] == "unknown"
    wait_for(lambda: call(services.store.fetch_val, "SELECT state FROM photo") == "verified", what="decode")
    assert _outbox(call, services) == {}

    response = http.post(f"/api/v1/interop/quarantine/{batch.sequence_id}", json={"patient_id": "IPP-0077"},
                         headers=ADMIN)
    assert response.status_code == 200 and response.json()["state"] == "reconciled"
    wait_for(lambda: _all_sent(call, services, batch.photos), what="delivery after resolution")
    assert _qido(orthanc, "/studies", PatientID="IPP-0077")
    decisions = opened_rows(call, services.store,
                     "SELECT * FROM audit_entry WHERE action IN ('sequence.identity.quarantine', 'sequence.identity.reconcile', "
                     "'sequence.identity.reject') ORDER BY seq")
    assert [d["action"] for d in decisions] == ["sequence.identity.quarantine", "sequence.identity.reconcile"]
    assert decisions[-1]["actor"] == "token:interop-admin" and decisions[-1]["patient_id"] == "IPP-0077"
    again = http.post(f"/api/v1/interop/quarantine/{batch.sequence_id}", json={"decision": "reject"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_in_quarantine"


def test_a_png_original_is_recorded_skipped_not_converted(orthanc, index, device, call, services, http):
    from tests.conftest import Batch
    from tests.support.photos import make_png, seal

    batch = Batch(device, 1)
    public, kid = device.seal_key()
    png = seal(make_png(), public, kid, batch.sequence_id, mime="image/png")
    batch.photos = [png]
    batch.manifest["photos"] = [png.entry(view="frontal")]
    sync(device, batch)
    wait_for(lambda: _outbox(call, services).get(png.photo_id, {}).get("state") == "skipped", what="skip")
    assert "no DICOM transfer syntax" in _outbox(call, services)[png.photo_id]["last_error"]
    assert _qido(orthanc, "/studies", PatientID="IPP-0042") == []
    status = http.get("/api/v1/interop/outbox", headers=ADMIN).json()
    assert status["counts"] == {"skipped": 1} and status["unsent"][0]["state"] == "skipped"


def test_after_an_a40_merge_the_pacs_copies_follow_the_surviving_identity(
        orthanc, index, device, batch_of, call, services, http):
    batch = batch_of(2)
    sync(device, batch)
    wait_for(lambda: _all_sent(call, services, batch.photos), what="outbox delivery")
    assert _qido(orthanc, "/studies", PatientID="IPP-0042")

    # the hospital finds IPP-0042 and IPP-0077 are one person and keeps IPP-0077
    assert ack_codes(send_mllp(MLLP_PORT, adt("A40", "IPP-0077^^^HOSP^PI", name="Martin^Paul", birth="19750506",
                                              sex="M", mrg="IPP-0042^^^HOSP^PI"))) == ["AA"]
    wait_for(lambda: _all_sent(call, services, batch.photos)
             and all(r["sent_patient_id"] == "IPP-0077" for r in _outbox(call, services).values()),
             what="delivery under the survivor")
    studies = _qido(orthanc, "/studies", PatientID="IPP-0077")
    assert [s["0020000D"]["Value"][0] for s in studies] == [study_uid(batch.sequence_id)]
    assert _qido(orthanc, "/studies", PatientID="IPP-0042") == []
    assert len(httpx.get(orthanc.url + "/instances", timeout=10).json()) == 2  # no copy left behind
    for photo in batch.photos:
        ds = _wado_instance(orthanc, batch.sequence_id, photo.photo_id)
        assert ds.SOPInstanceUID == instance_uid(photo.photo_id)  # the same instance, filed under the survivor
        assert ds.PatientID == "IPP-0077" and str(ds.PatientName) == "Martin^Paul" and ds.PatientSex == "M"
        sent = strip_jpeg_metadata(photo.plaintext)  # camera metadata never leaves (sync_server/strip.py)
        assert next(generate_frames(ds.PixelData, number_of_frames=1))[:len(sent)] == sent
    stored = opened_rows(call, services.store, "SELECT patient_id, detail FROM audit_entry "
                  "WHERE action = 'interop.pacs.store' AND outcome = '0' ORDER BY seq")
    assert [s["patient_id"] for s in stored] == ["IPP-0042"] * 2 + ["IPP-0077"] * 2
    assert all("copies under other Patient IDs removed: 1" in json.dumps(s["detail"]) for s in stored[2:])
    moved = opened_rows(call, services.store, "SELECT * FROM audit_entry WHERE action = 'sequence.identity.move'")
    assert [(m["patient_id"], m["object"]) for m in moved] == [("IPP-0077", f"sequence/{batch.sequence_id}")]


def test_an_a08_name_change_after_delivery_reaches_the_pacs_with_the_same_uids(
        orthanc, index, device, batch_of, call, services, http):
    batch = batch_of(2)
    sync(device, batch)
    wait_for(lambda: _all_sent(call, services, batch.photos), what="outbox delivery")
    first = {p.photo_id: _wado_instance(orthanc, batch.sequence_id, p.photo_id) for p in batch.photos}
    assert {str(ds.PatientName) for ds in first.values()} == {"Dupont^Zoé"}
    sent_at = {p: r["sent_at"] for p, r in _outbox(call, services).items()}

    # married after delivery: the hospital updates the name (escaped separator inside the family name)
    assert ack_codes(send_mllp(MLLP_PORT, adt("A08", "IPP-0042^^^HOSP^PI", name="Dupont\\T\\Durand^Zoé",
                                              birth="19800102"))) == ["AA"]
    wait_for(lambda: all(r["state"] == "sent" and r["sent_at"] != sent_at[p]
                         for p, r in _outbox(call, services).items()), what="delivery of the updated copies")
    assert len(httpx.get(orthanc.url + "/instances", timeout=10).json()) == 2  # replaced, not duplicated
    for photo in batch.photos:
        ds = _wado_instance(orthanc, batch.sequence_id, photo.photo_id)
        assert ds.SOPInstanceUID == instance_uid(photo.photo_id) and ds.StudyInstanceUID == study_uid(batch.sequence_id)
        assert str(ds.PatientName) == "Dupont&Durand^Zoé" and ds.PatientID == "IPP-0042"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert errors(buffer.getvalue()) == []  # what the PACS holds still validates
    # an A08 that restates the same demographics sends nothing again
    sent_at = {p: r["sent_at"] for p, r in _outbox(call, services).items()}
    assert ack_codes(send_mllp(MLLP_PORT, adt("A08", "IPP-0042^^^HOSP^PI", name="Dupont\\T\\Durand^Zoé"))) == ["AA"]
    assert {p: r["sent_at"] for p, r in _outbox(call, services).items()} == sent_at
