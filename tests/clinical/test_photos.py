"""Preview and original of a photo: what is served, to whom, and the audit trail."""
from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.clinical.conftest import PATIENT, open_glass, restrict


def _codes(response):
    return response.status_code, response.json()["error"]["code"]


def test_preview_is_a_reencoded_jpeg_without_metadata_and_audited(file_sequence, surgeon, audit):
    filed = file_sequence()
    response = surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/preview")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert "no-store" in response.headers["cache-control"]
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and max(image.size) <= 2048 and image.size == (320, 240)
    assert not image.getexif() and not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
    assert PATIENT["family"].encode() not in response.content and PATIENT["id"].encode() not in response.content
    read = audit("photo.read")[-1]
    assert read["detail"]["kind"] == "preview" and read["patient_id"] == PATIENT["id"] and read["outcome"] == "0"


def test_a_large_photo_gets_a_preview_whose_long_side_is_at_most_2048(file_sequence, surgeon):
    filed = file_sequence(views=["frontal"], size=(3000, 2000))
    image = Image.open(io.BytesIO(surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/preview").content))
    assert max(image.size) <= 2048 and image.size[0] / image.size[1] == pytest.approx(1.5, abs=0.01)
    assert not image.getexif()


def test_a_photo_filed_before_previews_gets_one_on_first_request_and_keeps_it(file_sequence, surgeon, services, call):
    filed = file_sequence()
    photo_id = filed.photo_ids[1]
    call(services.store.execute, "DELETE FROM rendition WHERE photo_id = :p AND kind = 'preview'", {"p": photo_id})
    first = surgeon.get(f"/api/v1/photos/{photo_id}/preview")
    assert first.status_code == 200 and Image.open(io.BytesIO(first.content)).format == "JPEG"
    row = call(services.store.fetch_one, "SELECT width, height FROM rendition WHERE photo_id = :p AND kind = 'preview'",
               {"p": photo_id})
    assert row is not None and (row["width"], row["height"]) == (320, 240)
    assert surgeon.get(f"/api/v1/photos/{photo_id}/preview").content == first.content


def test_original_is_bit_exact_with_a_name_free_of_patient_ids_and_its_own_audit(file_sequence, surgeon, audit):
    filed = file_sequence()
    response = surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/original")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(filed.originals[0]).digest()
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "frontal" in disposition and PATIENT["id"] not in disposition
    entry = audit("photo.original")[-1]
    assert entry["patient_id"] == PATIENT["id"] and entry["object"] == f"photo:{filed.photo_ids[0]}"
    assert not [e for e in audit("photo.read") if e["object"] == f"photo:{filed.photo_ids[0]}"]


@pytest.mark.parametrize("kind", ["preview", "original"])
def test_quarantined_unknown_and_malformed_photos(file_sequence, surgeon, services, call, audit, kind):
    filed = file_sequence()
    call(services.store.execute, "UPDATE photo SET state = 'quarantined' WHERE id = :id", {"id": filed.photo_ids[0]})
    response = surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/{kind}")
    assert _codes(response) == (409, "photo_quarantined") and not response.content.startswith(b"\xff\xd8")
    action = "photo.original" if kind == "original" else "photo.read"
    assert audit(action)[-1]["outcome"] == "4" and audit(action)[-1]["patient_id"] == PATIENT["id"]
    assert _codes(surgeon.get(f"/api/v1/photos/00000000-0000-4000-8000-000000000000/{kind}")) == (404, "photo_not_found")
    assert _codes(surgeon.get(f"/api/v1/photos/NOT-A-UUID/{kind}")) == (400, "invalid_id")


@pytest.mark.parametrize("role", ["nurse", "security_officer", "administrator"])
def test_other_roles_never_get_a_photo(file_sequence, person, role):
    filed = file_sequence()
    who = person(role)
    for kind in ("preview", "original"):
        response = who.get(f"/api/v1/photos/{filed.photo_ids[0]}/{kind}")
        assert _codes(response) == (403, "forbidden")


def test_break_glass_opens_previews_but_never_originals(file_sequence, person, audit):
    filed = file_sequence()
    officer = person("security_officer")
    open_glass(officer)
    assert officer.get(f"/api/v1/photos/{filed.photo_ids[0]}/preview").status_code == 200
    assert audit("photo.read")[-1]["detail"]["break_glass"] is True
    assert _codes(officer.get(f"/api/v1/photos/{filed.photo_ids[0]}/original")) == (403, "forbidden")


def test_photos_of_a_restricted_patient_need_break_glass(file_sequence, surgeon, person, audit):
    filed = file_sequence()
    restrict(person("security_officer"), PATIENT["id"])
    for kind, action in (("preview", "photo.read"), ("original", "photo.original")):
        assert _codes(surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/{kind}")) == (403, "patient_restricted")
        assert audit(action)[-1]["detail"]["code"] == "patient_restricted"
    open_glass(surgeon)
    assert surgeon.get(f"/api/v1/photos/{filed.photo_ids[0]}/original").content == filed.originals[0]
    assert audit("photo.original")[-1]["detail"]["break_glass"] is True
