"""Clinicians' workspace tests: people (real passkeys and sessions) and sequences filed through the real sync."""
from __future__ import annotations

import dataclasses
import io
import uuid
from typing import Any, Callable

import pytest
from PIL import Image

from sync_server.interop.patients import Patient, upsert
from tests.people.conftest import Person, admin, audit, person  # noqa: F401  (fixtures, re-exported)
from tests.support.photos import make_jpeg, manifest, seal, sequence_form

PATIENT = {"id": "IPP-7310", "family": "Dupré", "given": "Hélène", "birth_date": "1961-04-17", "sex": "F"}


def jpeg_with_identity(seed: int, width: int = 320, height: int = 240) -> bytes:
    """A JPEG whose EXIF names the patient (as some cameras do): exports must drop it."""
    source = Image.open(io.BytesIO(make_jpeg(width, height, seed=seed)))
    exif = Image.Exif()
    exif[0x010E] = f"{PATIENT['family']} {PATIENT['given']} {PATIENT['id']} {PATIENT['birth_date']}"
    exif[0x013B] = "Dr Surgeon"
    out = io.BytesIO()
    source.save(out, format="JPEG", quality=90, exif=exif, comment=PATIENT["id"].encode())
    return out.getvalue()


@dataclasses.dataclass
class Filed:
    sequence_id: str
    patient_id: str
    photo_ids: list[str]
    originals: list[bytes]
    form: dict[str, Any]


@pytest.fixture
def file_sequence(device: Any, services: Any, call: Callable[..., Any]) -> Callable[..., Filed]:
    """File one sequence through the real sync protocol (propose, tus upload, commit) and wait for its decode."""
    def make(patient_id: str = PATIENT["id"], views: list[str] | None = None, seed: int = 0,
             size: tuple[int, int] = (320, 240), **form_fields: Any) -> Filed:
        views = views or ["frontal", "right_lateral"]
        public, kid = device.seal_key()
        sequence_id = str(uuid.uuid4())
        originals = [jpeg_with_identity(seed * 100 + i, *size) for i in range(len(views))]
        photos = [seal(data, public, kid, sequence_id) for data in originals]
        form = sequence_form(sequence_id, patient_id, **form_fields)
        body = manifest(device.device_id or "", [form], photos, views=views, seal_key=(public, kid))
        assert device.propose(body).status_code == 201
        for p in photos:
            assert device.upload(body["batch_id"], p.photo_id, p.sealed).status_code == 204
        assert device.commit(body["batch_id"]).status_code == 200
        call(services.decoder.wait_idle)
        return Filed(sequence_id, patient_id, [p.photo_id for p in photos], originals, form)
    return make


@pytest.fixture
def indexed(services: Any, call: Callable[..., Any]) -> dict[str, Any]:
    """The test patient in the hospital patient index."""
    async def put() -> None:
        async with services.store.write() as db:
            await upsert(db, Patient(**PATIENT), source="test", actor="test")
    call(put)
    return PATIENT


@pytest.fixture
def surgeon(person: Callable[..., Person]) -> Person:
    return person("surgeon", name="Dr Surgeon")


def open_glass(who: Person) -> None:
    opened = who.post("/api/v1/me/break-glass", json={"reason": "Patient in ICU, surgeon unreachable tonight"})
    assert opened.status_code == 201, opened.text


def restrict(officer: Person, patient_id: str) -> None:
    response = officer.http.put("/api/v1/audit/restricted-patients", headers=officer.headers(),
                                json={"patient_id": patient_id, "reason": "Staff member", "restricted": True})
    assert response.status_code == 200, response.text
