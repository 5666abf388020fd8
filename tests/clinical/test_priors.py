"""Priors for the ghost overlay: a device asks for a patient's latest photo per view (issue 10, point 5)."""
from __future__ import annotations

import base64
import io

from PIL import Image

from sync_server.clock import now_iso
from tests.clinical.conftest import PATIENT, restrict
from tests.support.waiting import wait_for

URL = "/api/v1/devices/me/priors"


def _priors(device, patient_id=PATIENT["id"]):
    return device.http.get(URL, params={"patient_id": patient_id}, headers=device.auth)


def test_a_device_gets_the_newest_verified_photo_of_each_view_without_metadata(file_sequence, device, audit):
    old = file_sequence(views=["frontal", "right_lateral"], seed=1)
    taken = now_iso()  # photos carry their capture time to the second: the newer one is taken a second later
    wait_for(lambda: now_iso() > taken, timeout=5, what="the next second")
    new = file_sequence(views=["frontal"], seed=2)
    file_sequence(patient_id="IPP-9999", views=["left_lateral"], seed=3)
    response = _priors(device)
    assert response.status_code == 200 and "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["patient_id"] == PATIENT["id"]
    by_view = {p["view"]: p for p in body["priors"]}
    assert set(by_view) == {"frontal", "right_lateral"}  # never another patient's view
    assert by_view["frontal"]["photo_id"] == new.photo_ids[0]
    assert by_view["right_lateral"]["photo_id"] == old.photo_ids[1]
    for prior in body["priors"]:
        data = base64.urlsafe_b64decode(prior["jpeg"] + "=" * (-len(prior["jpeg"]) % 4))
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and image.size == (prior["width"], prior["height"])
        assert not image.getexif() and not {"exif", "comment"} & set(image.info)
        assert PATIENT["id"].encode() not in data and PATIENT["family"].encode() not in data
    entry = audit("prior.read")[-1]
    assert entry["patient_id"] == PATIENT["id"] and entry["outcome"] == "0"
    assert entry["device_id"] == device.device_id
    assert sorted(entry["detail"]["photos"]) == sorted(p["photo_id"] for p in body["priors"])


def test_a_patient_without_photos_has_no_priors_and_the_read_is_audited(device, audit):
    response = _priors(device, "IPP-0000")
    assert response.status_code == 200 and response.json()["priors"] == []
    assert audit("prior.read")[-1]["patient_id"] == "IPP-0000"


def test_withdrawn_consent_leaves_the_sequence_out(file_sequence, device, person):
    kept = file_sequence(views=["frontal"], seed=1)
    gone = file_sequence(views=["frontal"], seed=2)
    surgeon = person("surgeon")
    changed = surgeon.post(f"/api/v1/sequences/{gone.sequence_id}/consent",
                           json={"level": "withdrawn", "reason": "Patient withdrew consent at follow-up"})
    assert changed.status_code == 200, changed.text
    assert [p["photo_id"] for p in _priors(device).json()["priors"]] == [kept.photo_ids[0]]


def test_a_restricted_patient_is_refused_and_the_refusal_audited(file_sequence, device, person, audit):
    file_sequence()
    restrict(person("security_officer"), PATIENT["id"])
    response = _priors(device)
    assert response.status_code == 403 and response.json()["error"]["code"] == "patient_restricted"
    entry = audit("prior.read")[-1]
    assert entry["patient_id"] == PATIENT["id"] and entry["detail"]["code"] == "patient_restricted"


def test_a_signed_in_person_is_refused(file_sequence, person):
    file_sequence()
    surgeon = person("surgeon")
    assert surgeon.get(URL, params={"patient_id": PATIENT["id"]}).status_code in (401, 403)


def test_no_credential_and_bad_queries_are_refused(http, device):
    assert http.get(URL, params={"patient_id": PATIENT["id"]}).status_code == 401
    bad = device.http.get(URL, params={"patient_id": "x"}, headers=device.auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "patient_id_invalid"
    extra = device.http.get(URL, params={"patient_id": PATIENT["id"], "view": "frontal"}, headers=device.auth)
    assert extra.status_code == 400 and extra.json()["error"]["code"] == "clinical_query_invalid"
