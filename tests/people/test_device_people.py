"""Who took it (issue 11, point 4): people added to a phone with their own passkey, and every photo
filed under the person who took it; a photo whose person may not capture is held, never lost."""
from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from sync_server.audit.log import SUCCESS, verify_chain
from tests.people.authenticator import SoftAuthenticator
from tests.people.conftest import ORIGIN, Person
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form


def add_to_phone(device: SyncClient, authn: SoftAuthenticator, **forge: Any) -> Any:
    begin = device.http.post("/api/v1/devices/me/people/begin", json={}, headers=device.auth)
    assert begin.status_code == 200, begin.text
    body = begin.json()
    assert body["options"]["userVerification"] == "required"
    return device.http.post("/api/v1/devices/me/people", headers=device.auth,
                            json={"challenge_id": body["challenge_id"], "credential": authn.get(body["options"], **forge)})


def people_of(device: SyncClient) -> list[dict[str, Any]]:
    answer = device.http.get("/api/v1/devices/me/people", headers=device.auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["people"]


def batch_taken_by(device: SyncClient, *person_ids: str | None, opened_by: str | None = None) -> tuple[dict[str, Any], list[Any]]:
    """One sequence, one photo per person id given (None: a photo that names nobody)."""
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photos = [seal(make_jpeg(160, 120, seed=i), public, kid, sequence_id) for i in range(len(person_ids))]
    form = sequence_form(sequence_id, **({"person_id": opened_by} if opened_by else {}))
    document = manifest(device.device_id or "", [form], photos, seal_key=(public, kid))
    for entry, person_id in zip(document["photos"], person_ids, strict=True):
        if person_id is not None:
            entry["person_id"] = person_id
    return document, photos


def sync(device: SyncClient, document: dict[str, Any], photos: list[Any]) -> dict[str, Any]:
    signed = device.sync(document, photos)
    return {p["photo_id"]: p for p in signed["receipt"]["photos"]}


def photo_row(call: Callable[..., Any], services: Any, photo_id: str) -> dict[str, Any]:
    return dict(call(services.store.fetch_one, "SELECT * FROM photo WHERE id = :id", {"id": photo_id}))


def test_a_surgeon_added_with_their_own_passkey_is_listed_on_the_phone_and_audited(device, person, audit):
    surgeon: Person = person("surgeon", name="Dr Alice Martin")
    added = add_to_phone(device, surgeon.authn)
    assert added.status_code == 201, added.text
    assert added.json()["person"] | {} == {**added.json()["person"], "id": surgeon.id, "name": "Dr Alice Martin",
                                           "credential_id": surgeon.authn.id}
    assert [(p["id"], p["state"]) for p in people_of(device)] == [(surgeon.id, "active")]
    entry = audit("device.person.add")[-1]
    assert entry["actor"] == f"user:{surgeon.id}" and entry["device_id"] == device.device_id
    assert entry["detail"]["person_name"] == "Dr Alice Martin" and entry["outcome"] == SUCCESS


def test_two_people_on_one_phone_are_listed_by_name(device, person):
    bob, alice = person("surgeon", "administrator", name="Dr Bob"), person("surgeon", name="Dr Alice")
    assert add_to_phone(device, alice.authn).status_code == 201
    assert add_to_phone(device, bob.authn).status_code == 201
    assert [p["name"] for p in people_of(device)] == ["Dr Alice", "Dr Bob"]


def test_a_nurse_cannot_be_added_to_a_phone_and_the_refusal_is_audited(device, person, audit):
    nurse = person("nurse", name="Nurse Jo")
    refused = add_to_phone(device, nurse.authn)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "person_cannot_capture"
    assert people_of(device) == []
    entry = audit("device.person.add")[-1]
    assert entry["outcome"] != SUCCESS and entry["detail"] == {"code": "person_cannot_capture", "person": nurse.id}


def test_a_forged_assertion_or_a_web_signin_challenge_adds_nobody(device, person, http):
    surgeon = person("surgeon")
    forged = add_to_phone(device, surgeon.authn, origin="https://evil.example")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "passkey_invalid"
    web = http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN}).json()
    crossed = http.post("/api/v1/devices/me/people", headers=device.auth,
                        json={"challenge_id": web["challenge_id"], "credential": surgeon.authn.get(web["options"])})
    assert crossed.status_code == 400 and crossed.json()["error"]["code"] == "challenge_invalid"
    assert people_of(device) == []


def test_adding_a_person_needs_a_device_credential(http, person):
    assert http.post("/api/v1/devices/me/people/begin", json={}).status_code == 401
    assert http.get("/api/v1/devices/me/people").status_code == 401


def test_a_photo_names_its_person_in_the_receipt_and_the_audit_names_person_and_device(device, person, audit, call,
                                                                                        services):
    alice, bob = person("surgeon", name="Dr Alice"), person("surgeon", name="Dr Bob")
    add_to_phone(device, alice.authn)
    add_to_phone(device, bob.authn)
    document, photos = batch_taken_by(device, alice.id, bob.id, opened_by=alice.id)
    listed = sync(device, document, photos)
    assert listed[photos[0].photo_id]["taken_by"] == {"person_id": alice.id, "name": "Dr Alice"}
    assert listed[photos[1].photo_id]["taken_by"] == {"person_id": bob.id, "name": "Dr Bob"}
    assert all("held" not in p for p in listed.values())
    filed = {e["object"]: e for e in audit("photo.file")}
    bob_entry = filed[f"photo/{photos[1].photo_id}"]
    assert bob_entry["actor"] == f"user:{bob.id}" and bob_entry["device_id"] == device.device_id
    assert bob_entry["detail"]["person_name"] == "Dr Bob"
    created = audit("sequence.create")[-1]
    assert created["actor"] == f"user:{alice.id}" and created["device_id"] == device.device_id
    assert photo_row(call, services, photos[1].photo_id)["person_id"] == bob.id
    sequence = call(services.store.fetch_one, "SELECT person_id FROM sequence WHERE id = :id",
                    {"id": photos[0].sequence_id})
    assert sequence["person_id"] == alice.id
    assert call(verify_chain, services.store).ok


def test_a_photo_of_a_person_revoked_since_is_filed_in_quarantine_never_lost(device, person, admin, audit, call,
                                                                              services):
    alice, bob = person("surgeon", name="Dr Alice"), person("surgeon", name="Dr Bob")
    add_to_phone(device, alice.authn)
    add_to_phone(device, bob.authn)
    assert admin.post(f"/api/v1/admin/people/{bob.id}/revoke").status_code == 204
    assert [p["state"] for p in people_of(device)] == ["active", "revoked"]
    document, photos = batch_taken_by(device, alice.id, bob.id, opened_by=bob.id)
    listed = sync(device, document, photos)
    held = listed[photos[1].photo_id]
    assert held["held"] == "person_revoked" and held["taken_by"] == {"person_id": bob.id, "name": "Dr Bob"}
    assert "held" not in listed[photos[0].photo_id]
    row = photo_row(call, services, photos[1].photo_id)
    assert (row["state"], row["quarantine_reason"]) == ("quarantined", "person_revoked")
    assert services.objects.get(row["storage_key"], services.keys.keks) == photos[1].plaintext  # kept bit-exact
    quarantined = audit("photo.quarantine")[-1]
    assert quarantined["object"] == f"photo/{photos[1].photo_id}" and quarantined["actor"] == f"device:{device.device_id}"
    assert quarantined["detail"]["code"] == "person_revoked" and quarantined["detail"]["person"] == bob.id
    created = audit("sequence.create")[-1]
    assert created["actor"] == f"device:{device.device_id}" and created["detail"]["person_problem"] == "person_revoked"


def test_a_photo_naming_an_unknown_person_or_one_never_added_here_is_held_with_its_code(device, person, call,
                                                                                        services):
    stranger = person("surgeon", name="Dr Elsewhere")  # exists, but never added to this phone
    nurse = person("nurse")
    unknown = str(uuid.uuid4())
    document, photos = batch_taken_by(device, unknown, stranger.id, nurse.id, None)
    listed = sync(device, document, photos)
    assert listed[photos[0].photo_id]["held"] == "person_unknown"
    assert listed[photos[0].photo_id]["taken_by"] == {"person_id": unknown}
    assert listed[photos[1].photo_id]["held"] == "person_not_on_device"
    assert listed[photos[2].photo_id]["held"] == "person_not_on_device"
    assert "held" not in listed[photos[3].photo_id] and "taken_by" not in listed[photos[3].photo_id]
    assert photo_row(call, services, photos[3].photo_id)["state"] in ("filed", "verified")


def test_a_person_taken_off_the_phone_no_longer_captures_there(device, person, call, services, audit):
    alice = person("surgeon", name="Dr Alice")
    add_to_phone(device, alice.authn)
    removed = device.http.delete(f"/api/v1/devices/me/people/{alice.id}", headers=device.auth)
    assert removed.status_code == 204
    assert people_of(device) == []
    assert audit("device.person.remove")[-1]["object"] == f"person:{alice.id}"
    again = device.http.delete(f"/api/v1/devices/me/people/{alice.id}", headers=device.auth)
    assert again.status_code == 404 and again.json()["error"]["code"] == "person_not_found"
    document, photos = batch_taken_by(device, alice.id)
    assert sync(device, document, photos)[photos[0].photo_id]["held"] == "person_not_on_device"
    assert add_to_phone(device, alice.authn).status_code == 201  # added again: captures again
    document, photos = batch_taken_by(device, alice.id)
    assert "held" not in sync(device, document, photos)[photos[0].photo_id]


def test_a_person_id_that_is_not_a_uuid_is_refused_as_invalid_id(device):
    document, _ = batch_taken_by(device, "not-a-uuid")
    refused = device.propose(document)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_id"


def test_the_same_photo_proposed_again_under_another_person_is_a_conflict(device, person):
    alice, bob = person("surgeon", name="Dr Alice"), person("surgeon", name="Dr Bob")
    document, _ = batch_taken_by(device, alice.id)
    assert device.propose(document).status_code == 201
    retry = json.loads(json.dumps(document))
    retry["batch_id"] = str(uuid.uuid4())
    retry["photos"][0]["person_id"] = bob.id
    conflict = device.propose(retry)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "photo_conflict"


def test_the_officers_journal_names_the_person_who_took_the_photo_and_the_phone(device, person):
    bob = person("surgeon", name="Dr Bob")
    officer = person("security_officer", name="Officer Kim")
    add_to_phone(device, bob.authn)
    document, photos = batch_taken_by(device, bob.id, opened_by=bob.id)
    sync(device, document, photos)
    journal = officer.get("/api/v1/audit/entries", params={"action": "photo.file"})
    assert journal.status_code == 200, journal.text
    entry = next(e for e in journal.json()["entries"] if e["object"] == f"photo/{photos[0].photo_id}")
    assert (entry["actor"], entry["actor_name"]) == (f"user:{bob.id}", "Dr Bob")
    assert (entry["device_id"], entry["device_label"]) == (device.device_id, "test phone")
    assert entry["role"] == "surgeon"
