"""Sequence forms travel sealed to the hospital key (CPF1): the server opens, checks and files them,
and refuses a form that does not open, names another sequence, or breaks the sequence schema:
a stable code, an audit entry, nothing stored, no value echoed."""
from __future__ import annotations

from sync_server.storage.fields import open_form

import json
import uuid
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric import ec

from crypto import b64url_decode, b64url_encode, key_id, seal_form
from tests.conftest import Batch
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sealed_sequence, sequence_form

PATIENT = "IPP-7731"


def _refusal(call: Callable[..., Any], services: Any, code: str) -> dict[str, Any]:
    rows = call(services.store.fetch_all, "SELECT * FROM audit_entry ORDER BY seq DESC")
    for row in rows:
        if json.loads(row["detail"]).get("code") == code:
            assert row["outcome"] == "4" and row["action"] == "batch.propose"
            assert PATIENT not in json.dumps(dict(row))
            return dict(row)
    raise AssertionError(f"no audit entry for {code}")


def _nothing_stored(call: Callable[..., Any], services: Any, doc: dict[str, Any]) -> None:
    assert call(services.store.fetch_val, "SELECT COUNT(*) FROM batch WHERE id = :id", {"id": doc["batch_id"]}) == 0
    for s in doc["sequences"]:
        assert call(services.store.fetch_val, "SELECT COUNT(*) FROM sequence WHERE id = :id", {"id": s["sequence_id"]}) == 0
    for p in doc["photos"]:
        assert call(services.store.fetch_val, "SELECT COUNT(*) FROM photo WHERE id = :id", {"id": p["photo_id"]}) == 0


def _refused(device: SyncClient, call: Callable[..., Any], services: Any, doc: dict[str, Any], code: str) -> dict[str, Any]:
    response = device.propose(doc)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert PATIENT not in response.text
    _refusal(call, services, code)
    _nothing_stored(call, services, doc)
    return response.json()["error"]


def test_the_server_opens_the_sealed_form_and_files_it(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    assert PATIENT not in json.dumps(batch.manifest)
    assert device.propose(batch.manifest).status_code == 201
    row = call(services.store.fetch_one, "SELECT patient_id, form FROM sequence WHERE id = :id", {"id": batch.sequence_id})
    assert services.store.fields.open_pid(row["patient_id"]) == PATIENT and open_form(services.keys, batch.sequence_id, row["form"]) == batch.form
    assert row["form"].startswith("cpr1:")  # encrypted at rest (storage/fields.py): no answer in clear
    assert not {str(v) for v in batch.form.values() if isinstance(v, str) and len(v) > 3} & set(row["form"].split('"'))
    stored = call(services.store.fetch_val, "SELECT manifest FROM batch WHERE id = :id", {"id": batch.batch_id})
    assert PATIENT not in stored  # the batch keeps the manifest as sent: sealed forms only
    assert device.propose(batch.manifest).status_code == 200  # same sealed bytes: same manifest


def test_a_later_batch_may_reseal_the_same_form_but_not_change_it(device, call, services):
    first = Batch(device, 1, patient_id=PATIENT)
    assert device.propose(first.manifest).status_code == 201
    public, kid = device.seal_key()
    again = seal(make_jpeg(seed=5), public, kid, first.sequence_id)
    doc = manifest(device.device_id or "", [first.form], [again], seal_key=(public, kid))
    assert doc["sequences"] != first.manifest["sequences"]  # sealed afresh, same form inside
    assert device.propose(doc).status_code == 201
    other = seal(make_jpeg(seed=6), public, kid, first.sequence_id)
    changed = manifest(device.device_id or "", [{**first.form, "patient_id": "IPP-0001"}], [other], seal_key=(public, kid))
    response = device.propose(changed)
    assert response.status_code == 409 and response.json()["error"]["code"] == "sequence_conflict"


def test_a_form_sealed_for_another_sequence_is_refused(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    public, kid = device.seal_key()
    elsewhere = sealed_sequence(sequence_form(str(uuid.uuid4()), PATIENT), (public, kid))
    batch.manifest["sequences"][0]["sealed_form"] = elsewhere["sealed_form"]
    error = _refused(device, call, services, batch.manifest, "form_seal_wrong_sequence")
    assert error["details"] == {"sequence_id": batch.sequence_id}


def test_a_tampered_sealed_form_is_refused(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    blob = bytearray(b64url_decode(batch.manifest["sequences"][0]["sealed_form"]))
    blob[-5] ^= 0x01
    batch.manifest["sequences"][0]["sealed_form"] = b64url_encode(bytes(blob))
    _refused(device, call, services, batch.manifest, "form_seal_invalid")


def test_a_truncated_sealed_form_is_refused(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    blob = b64url_decode(batch.manifest["sequences"][0]["sealed_form"])
    batch.manifest["sequences"][0]["sealed_form"] = b64url_encode(blob[:120])
    _refused(device, call, services, batch.manifest, "form_seal_invalid")


def test_a_photo_seal_passed_off_as_a_form_is_refused(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    batch.manifest["sequences"][0]["sealed_form"] = b64url_encode(batch.photos[0].sealed[:4000])
    _refused(device, call, services, batch.manifest, "form_seal_invalid")


def test_a_form_sealed_to_a_key_the_server_does_not_hold_is_refused(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    batch.manifest["sequences"] = [sealed_sequence(batch.form, (stranger, key_id(stranger)))]
    _refused(device, call, services, batch.manifest, "form_seal_unknown_key")


def test_a_form_that_opens_but_breaks_the_sequence_schema_is_refused_without_echo(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    public, kid = device.seal_key()
    bad = {**batch.form, "procedure": PATIENT, "timing": {"phase": "post_op"}, PATIENT: PATIENT}
    batch.manifest["sequences"] = [{"sequence_id": batch.sequence_id,
                                    "sealed_form": b64url_encode(seal_form(bad, public, kid))}]
    error = _refused(device, call, services, batch.manifest, "schema_invalid")
    paths = {v["path"] for v in error["details"]["violations"]}
    assert "/sequences/0/sealed_form/procedure" in paths and "/sequences/0/sealed_form" in paths


def test_a_clear_form_is_no_longer_accepted(device, call, services):
    batch = Batch(device, 1, patient_id=PATIENT)
    batch.manifest["sequences"] = [batch.form]
    response = device.propose(batch.manifest)
    assert response.status_code == 422 and response.json()["error"]["code"] == "schema_invalid"
    assert PATIENT not in response.text
    _nothing_stored(call, services, batch.manifest)


def test_a_form_without_consent_side_or_phase_is_refused(device, call, services):
    """The app never pre-answers these; a form that reaches the server without them is refused."""
    for missing in ("consent", "laterality", "timing"):
        batch = Batch(device, 1, patient_id=PATIENT)
        public, kid = device.seal_key()
        form = {k: v for k, v in batch.form.items() if k != missing}
        batch.manifest["sequences"] = [{"sequence_id": batch.sequence_id,
                                        "sealed_form": b64url_encode(seal_form(form, public, kid))}]
        error = _refused(device, call, services, batch.manifest, "schema_invalid")
        assert {"path": f"/sequences/0/sealed_form/{missing}", "message": "is required"} in error["details"]["violations"]
    batch = Batch(device, 1, patient_id=PATIENT)
    public, kid = device.seal_key()
    form = {**batch.form, "timing": {"delay_days": 3}}  # a phase-less timing is no answer either
    batch.manifest["sequences"] = [{"sequence_id": batch.sequence_id,
                                    "sealed_form": b64url_encode(seal_form(form, public, kid))}]
    _refused(device, call, services, batch.manifest, "schema_invalid")


def test_a_shot_past_the_protocol_is_accepted_as_an_additional_view_and_unknown_views_are_refused(device, call, services):
    batch = Batch(device, 2, patient_id=PATIENT, views=["frontal", "additional"])
    assert device.propose(batch.manifest).status_code == 201
    views = call(services.store.fetch_all, "SELECT view FROM photo WHERE sequence_id = :s", {"s": batch.sequence_id})
    assert sorted(r["view"] for r in views) == ["additional", "frontal"]
    batch = Batch(device, 2, patient_id=PATIENT, views=["frontal", "selfie"])
    error = _refused(device, call, services, batch.manifest, "schema_invalid")
    assert error["details"]["violations"] == [{"path": "/photos/1/view", "message": "is not a view code of views.json"}]
