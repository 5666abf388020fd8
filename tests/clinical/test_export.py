"""Consent-aware exports: the rules for every level and purpose, de-identification, care exports, refusals."""
from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from PIL import Image

from sync_server.clinical import catalog
from tests.clinical.conftest import PATIENT, open_glass, restrict

# who may receive what, written out (not computed from the code under test)
ALLOWED = {
    ("care", False): {"record", "teaching", "publication"},
    ("care", True): {"record", "teaching", "publication"},
    ("teaching", False): {"teaching", "publication"},
    ("teaching", True): {"publication"},
    ("publication", False): {"publication"},
    ("publication", True): {"publication"},
}
LEVELS = ["withdrawn", "record", "teaching", "publication"]


def _codes(response):
    return response.status_code, response.json()["error"]["code"]


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert re.fullmatch(r'attachment; filename="clinphoto-export-\d{4}-\d{2}-\d{2}\.zip"',
                        response.headers["content-disposition"])
    return zipfile.ZipFile(io.BytesIO(response.content))


@pytest.mark.parametrize("purpose", ["care", "teaching", "publication"])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("face", [False, True])
def test_the_rule_for_every_level_purpose_and_face(purpose, level, face):
    assert catalog.allowed(purpose, level, face) is (level in ALLOWED[(purpose, face)])


def test_every_consent_level_for_every_purpose_through_the_api(file_sequence, surgeon, audit):
    body = file_sequence(views=["overview", "close_up"], view_protocol="lesion", anatomical_region="back",
                         procedure="skin_tumour_excision")
    face = file_sequence(seed=1)  # rhinoplasty, nose: shows the face
    for level in LEVELS:
        for filed in (body, face):
            changed = surgeon.post(f"/api/v1/sequences/{filed.sequence_id}/consent",
                                   json={"level": level, "reason": f"Consent now {level}"})
            assert changed.status_code == 200
        for purpose in ("care", "teaching", "publication"):
            for filed, is_face in ((body, False), (face, True)):
                response = surgeon.post("/api/v1/exports", json={"purpose": purpose, "photo_ids": filed.photo_ids})
                if level in ALLOWED[(purpose, is_face)]:
                    archive = _zip(response)
                    assert len(archive.namelist()) == 3, (level, purpose, is_face)
                else:
                    assert _codes(response) == (403, "consent_insufficient"), (level, purpose, is_face)
                    assert sorted(response.json()["error"]["details"]["photos"]) == sorted(filed.photo_ids)
                    refusal = audit("photo.export")[-1]
                    assert refusal["outcome"] == "4" and refusal["patient_id"] == PATIENT["id"]


def test_one_refused_photo_refuses_the_whole_export(file_sequence, surgeon):
    allowed = file_sequence(anatomical_region="back", view_protocol="abdomen", procedure="abdominoplasty",
                            consent="teaching")
    face = file_sequence(seed=1, consent="teaching")
    response = surgeon.post("/api/v1/exports", json={"purpose": "teaching",
                                                     "photo_ids": allowed.photo_ids + face.photo_ids[:1]})
    assert _codes(response) == (403, "consent_insufficient")
    assert response.json()["error"]["details"]["photos"] == face.photo_ids[:1]


def test_teaching_and_publication_exports_carry_no_identifier(file_sequence, indexed, surgeon, audit):
    filed = file_sequence(consent="publication", surgeon="Dr Gregory House",
                          note=f"Ms {PATIENT['family']} asked for photos", performed_on="2026-09-14")
    names = set()
    for purpose in ("teaching", "publication"):
        response = surgeon.post("/api/v1/exports", json={"purpose": purpose, "photo_ids": filed.photo_ids})
        archive = _zip(response)
        raw = response.content
        for secret in (PATIENT["id"], PATIENT["family"], PATIENT["given"], "Dupre", "Helene", PATIENT["birth_date"],
                       "1961", "Gregory House", "2026-09-14", filed.sequence_id, *filed.photo_ids):
            for encoding in ("utf-8", "utf-16-le", "latin-1"):
                assert secret.encode(encoding, "ignore") not in raw, (purpose, secret, encoding)
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["purpose"] == purpose and manifest["deidentified"] is True
        files = [n for n in archive.namelist() if n != "manifest.json"]
        assert len(files) == 2 and all(re.fullmatch(r"[0-9a-f]{16}\.jpg", n) for n in files)
        assert sorted(e["file"] for e in manifest["photos"]) == sorted(files)
        assert set(manifest["photos"][0]) == {"file", "view", "view_label", "procedure", "region", "laterality",
                                              "phase", "delay_days"}
        for name in files:
            data = archive.read(name)
            assert data not in filed.originals
            image = Image.open(io.BytesIO(data))
            image.load()
            assert image.format == "JPEG" and image.size == (320, 240)
            assert not image.getexif(), name
            assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"} & set(image.info)
        names.update(files)
    assert len(names) == 4  # random names, never the same twice
    entries = [e for e in audit("photo.export") if e["outcome"] == "0"]
    assert len(entries) == 4 and {e["patient_id"] for e in entries} == {PATIENT["id"]}
    assert {e["detail"]["purpose"] for e in entries} == {"teaching", "publication"}


def test_a_care_export_carries_the_originals_for_the_record(file_sequence, surgeon, audit):
    filed = file_sequence(surgeon="Dr House")
    archive = _zip(surgeon.post("/api/v1/exports", json={"purpose": "care", "photo_ids": filed.photo_ids}))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["deidentified"] is False and manifest["purpose"] == "care"
    for entry, photo_id, original in zip(manifest["photos"], filed.photo_ids, filed.originals):
        assert entry["photo_id"] == photo_id and entry["patient_id"] == PATIENT["id"]
        assert archive.read(entry["file"]) == original  # bit-exact
        assert re.fullmatch(r"\d{3}-(frontal|right_lateral)-\d{4}-\d{2}-\d{2}\.jpg", entry["file"])
        assert PATIENT["id"] not in entry["file"]
    assert [e["object"] for e in audit("photo.export")] == [f"photo:{p}" for p in filed.photo_ids]


def test_break_glass_exports_only_de_identified_photos(file_sequence, person):
    filed = file_sequence(consent="publication")
    officer = person("security_officer")
    assert _codes(officer.post("/api/v1/exports", json={"purpose": "teaching", "photo_ids": filed.photo_ids})) == (
        403, "forbidden")
    open_glass(officer)
    assert _codes(officer.post("/api/v1/exports", json={"purpose": "care", "photo_ids": filed.photo_ids})) == (
        403, "original_surgeons_only")
    _zip(officer.post("/api/v1/exports", json={"purpose": "publication", "photo_ids": filed.photo_ids}))


def test_bad_export_requests(file_sequence, surgeon, services, call, person):
    filed = file_sequence(consent="publication")
    for body in ({}, {"purpose": "care"}, {"purpose": "fun", "photo_ids": filed.photo_ids},
                 {"purpose": "care", "photo_ids": []}, {"purpose": "care", "photo_ids": filed.photo_ids * 2},
                 {"purpose": "care", "photo_ids": "x"}, {"purpose": "care", "photo_ids": filed.photo_ids, "more": 1},
                 [1, 2]):
        assert _codes(surgeon.post("/api/v1/exports", json=body)) == (422, "export_invalid"), body
    assert _codes(surgeon.post("/api/v1/exports", json={"purpose": "care", "photo_ids": ["nope"]})) == (400, "invalid_id")
    ghost = "00000000-0000-4000-8000-000000000000"
    unknown = surgeon.post("/api/v1/exports", json={"purpose": "care", "photo_ids": [filed.photo_ids[0], ghost]})
    assert _codes(unknown) == (404, "photo_not_found") and unknown.json()["error"]["details"]["photos"] == [ghost]
    call(services.store.execute, "UPDATE photo SET state = 'quarantined' WHERE id = :id", {"id": filed.photo_ids[0]})
    quarantined = surgeon.post("/api/v1/exports", json={"purpose": "care", "photo_ids": filed.photo_ids})
    assert _codes(quarantined) == (403, "consent_insufficient")
    assert quarantined.json()["error"]["details"]["photos"] == filed.photo_ids[:1]
    assert _codes(person("nurse").post("/api/v1/exports", json={"purpose": "care", "photo_ids": filed.photo_ids})) == (
        403, "forbidden")


def test_a_restricted_patient_needs_break_glass_to_export(file_sequence, surgeon, person, audit):
    filed = file_sequence(consent="publication")
    restrict(person("security_officer"), PATIENT["id"])
    request = {"purpose": "publication", "photo_ids": filed.photo_ids}
    assert _codes(surgeon.post("/api/v1/exports", json=request)) == (403, "patient_restricted")
    assert audit("photo.export")[-1]["patient_id"] == PATIENT["id"]
    open_glass(surgeon)
    _zip(surgeon.post("/api/v1/exports", json=request))
