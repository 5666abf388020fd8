"""Nothing identifying leaves the server (issue 12, point 5): a photo full of camera metadata (EXIF with
make, model, owner, serial number, original date and maker note; XMP; IPTC; a comment) is synced, then
every way out is read as its receiver reads it: the PACS (DICOM by WADO-RS, the rendered JPEG the FHIR
Media url points at), the FHIR API, the preview, the ghost-overlay priors and the exports for care,
teaching and publication. None carries any of it; the stored original stays bit-exact."""
from __future__ import annotations

import base64
import io
import json
import re
import uuid
import zipfile
from typing import Any

import httpx
import pytest
from PIL import Image
from pydicom.encaps import generate_frames

from sync_server.interop.uids import instance_uid, series_uid, study_uid
from sync_server.strip import strip_jpeg_metadata
from tests.interop.conftest import sync
from tests.interop.orthanc import Orthanc
from tests.interop.test_pacs import MLLP_PORT, _all_sent, _wado_instance
from tests.support.photos import IDENTIFYING, make_jpeg, manifest, seal, sequence_form, with_camera_metadata
from tests.support.waiting import wait_for

FHIR = {"Authorization": "Bearer fhir-token"}


@pytest.fixture
def interop_settings(orthanc: Orthanc) -> dict[str, Any]:
    return {"dicomweb_url": orthanc.dicomweb, "orthanc_url": orthanc.url, "interop_admin_token": "admin-token",
            "fhir_token": "fhir-token", "fhir_r5": True, "outbox_retry_seconds": 1, "outbox_retry_max_seconds": 2,
            "hl7_mllp_port": MLLP_PORT}


class _Batch:
    def __init__(self, device: Any, originals: list[bytes]) -> None:
        public, kid = device.seal_key()
        self.sequence_id = str(uuid.uuid4())
        self.photos = [seal(data, public, kid, self.sequence_id) for data in originals]
        # publication consent: every export purpose is allowed, so every export path is read below
        self.form = sequence_form(self.sequence_id, "IPP-0042", consent="publication")
        self.manifest = manifest(device.device_id or "", [self.form], self.photos, views=["frontal", "basal"],
                                 seal_key=(public, kid))
        self.batch_id = self.manifest["batch_id"]


def _clean(what: str, data: bytes) -> None:
    found = [marker for marker in IDENTIFYING if marker in data]
    assert not found, f"{what} carries {found}"


def _clean_jpeg(what: str, data: bytes) -> None:
    _clean(what, data)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and not image.getexif(), what
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"} & set(image.info), what


def test_no_egress_carries_camera_metadata_and_the_original_stays_bit_exact(
        orthanc, index, device, person, call, services, http):
    originals = [with_camera_metadata(Image.open(io.BytesIO(make_jpeg(320, 240, seed=i)))) for i in range(2)]
    for data in originals:
        assert all(marker in data for marker in IDENTIFYING)  # the test photo carries every kind
    batch = _Batch(device, originals)
    sync(device, batch)
    call(services.decoder.wait_idle)
    wait_for(lambda: _all_sent(call, services, batch.photos), what="outbox delivery")
    surgeon = person("surgeon", name="Dr Surgeon")

    for photo in batch.photos:
        # the PACS: the DICOM object as Orthanc serves it, its frame the original JPEG less its metadata
        ds = _wado_instance(orthanc, batch.sequence_id, photo.photo_id)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        _clean("the DICOM object in the PACS", buffer.getvalue())
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        assert frame.rstrip(b"\x00") == strip_jpeg_metadata(photo.plaintext).rstrip(b"\x00")
        _clean_jpeg("the PACS frame", frame.rstrip(b"\x00"))
        rendered = httpx.get(f"{orthanc.dicomweb}/studies/{study_uid(batch.sequence_id)}/series/"
                             f"{series_uid(batch.sequence_id)}/instances/{instance_uid(photo.photo_id)}/rendered",
                             headers={"Accept": "image/jpeg"}, timeout=30)
        assert rendered.status_code == 200
        _clean_jpeg("the PACS rendered JPEG", rendered.content)

        # the preview a clinician sees, and the original a surgeon may download, bit-exact by design
        preview = surgeon.get(f"/api/v1/photos/{photo.photo_id}/preview")
        assert preview.status_code == 200
        _clean_jpeg("the preview", preview.content)
        original = surgeon.get(f"/api/v1/photos/{photo.photo_id}/original")
        assert original.status_code == 200 and original.content == photo.plaintext

    # the FHIR API: every resource, and the rendition each Media url points at
    for path, kind in (("/fhir/r4/Media", "Media"), ("/fhir/r5/DocumentReference", "DocumentReference")):
        response = http.get(path, params={"patient": "IPP-0042"}, headers=FHIR)
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == 2
        _clean(f"the FHIR {kind} bundle", response.content)
        for entry in bundle["entry"]:
            attachment = (entry["resource"]["content"] if kind == "Media"
                          else entry["resource"]["content"][0]["attachment"])
            assert "data" not in attachment  # no bytes inline: they come from the PACS
            fetched = httpx.get(attachment["url"], headers={"Accept": attachment["contentType"]}, timeout=30)
            assert fetched.status_code == 200
            _clean_jpeg(f"the JPEG a FHIR {kind} url gives", fetched.content)

    # the ghost overlay's priors, sent to a phone
    priors = device.http.get("/api/v1/devices/me/priors", params={"patient_id": "IPP-0042"}, headers=device.auth)
    assert priors.status_code == 200 and len(priors.json()["priors"]) == 2
    for prior in priors.json()["priors"]:
        _clean_jpeg("a prior", base64.urlsafe_b64decode(prior["jpeg"] + "=" * (-len(prior["jpeg"]) % 4)))

    # the exports: every file of every archive, the manifest included
    for purpose in ("care", "teaching", "publication"):
        response = surgeon.post("/api/v1/exports", json={"purpose": purpose,
                                                         "photo_ids": [p.photo_id for p in batch.photos]})
        assert response.status_code == 200, response.text
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = archive.namelist()
        assert len([n for n in names if re.search(r"\.jpe?g$", n)]) == 2, names
        for name in names:
            data = archive.read(name)
            if name.endswith(".json"):
                json.loads(data)
                _clean(f"the {purpose} export's {name}", data)
            else:
                _clean_jpeg(f"the {purpose} export's {name}", data)
