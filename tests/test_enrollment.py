"""Two-step enrolment: a code is used up only when the device proves it stored its credential.

A phone whose enrolment answer was lost (Wi-Fi dropped, tab closed, a script error before the
credential was written) retries with the same code and gets a fresh answer; the earlier one stops
working; there is never an orphan device nor two devices from one code.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

import httpx
import pytest

from sync_server.auth import devices
from tests.conftest import Batch, both_backends
from tests.people.conftest import *  # noqa: F403  (admin, person fixtures)
from tests.support.client import SyncClient
from tests.support.server import ServerProcess

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def _device_count(call: Callable[..., Any], services: Any) -> int:
    return int(call(services.store.fetch_val, "SELECT COUNT(*) FROM device"))


def _actions(call: Callable[..., Any], services: Any) -> list[tuple[str, str, dict[str, Any]]]:
    rows = call(services.store.fetch_all,
                "SELECT action, outcome, detail FROM audit_entry WHERE action LIKE :a ORDER BY seq", {"a": "device.%"})
    return [(r["action"], r["outcome"], json.loads(r["detail"]) if r["detail"] else {}) for r in rows]


def test_enrol_answers_a_pending_credential_that_sync_refuses_until_confirmed(http, new_code, services, call):
    phone = SyncClient(http)
    assert phone.enroll_unconfirmed(new_code()).status_code == 201
    assert _device_count(call, services) == 0
    assert not call(devices.has_devices, services.store)  # first start would still print a code
    for answer in (http.get("/api/v1/devices/me", headers=phone.auth),
                   phone.propose(Batch(phone, 1).manifest)):
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "device_enrollment_unconfirmed"
    confirmed = phone.confirm()
    assert confirmed.status_code == 200
    assert confirmed.json()["device_id"] == phone.device_id and confirmed.json()["label"] == "test phone"
    assert http.get("/api/v1/devices/me", headers=phone.auth).status_code == 200
    assert _device_count(call, services) == 1


def test_the_code_is_used_up_only_at_confirmation_and_confirming_again_answers_the_same(http, new_code, services,
                                                                                           call):
    code = new_code()
    phone = SyncClient(http)
    assert phone.enroll_unconfirmed(code).status_code == 201
    first = phone.confirm().json()
    assert phone.confirm().json() == first  # the confirmation's answer was lost: the app asks again
    again = SyncClient(http).enroll_unconfirmed(code)
    assert again.status_code == 400 and again.json()["error"]["code"] == "enrollment_code_invalid"
    assert _device_count(call, services) == 1
    actions = _actions(call, services)
    assert [a[:2] for a in actions] == [
        ("device.enrollment_code.create", "0"), ("device.enroll", "0"),
        ("device.enroll.confirm", "0"), ("device.enroll.confirm", "0"),
        ("device.enroll", "4")]
    assert actions[1][2]["state"] == "pending" and actions[3][2] == {"again": True}
    assert actions[4][2]["reason"] == "already_used"


def test_a_lost_answer_is_retried_with_the_same_code_and_the_earlier_credential_stops_working(
        http, new_code, services, call):
    code = new_code("Bloc 2 phone")
    lost = SyncClient(http)
    assert lost.enroll_unconfirmed(code).status_code == 201  # the answer never reached the phone's storage
    retried = SyncClient(http)
    assert retried.enroll_unconfirmed(code.lower().replace("-", " ")).status_code == 201
    assert retried.device_id != lost.device_id and retried.credential != lost.credential
    refused = lost.confirm()
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "device_unauthenticated"
    assert http.get("/api/v1/devices/me", headers=lost.auth).json()["error"]["code"] == "device_unauthenticated"
    assert retried.confirm().status_code == 200
    assert lost.confirm().status_code == 401  # still dead once the retry is a device
    rows = call(services.store.fetch_all, "SELECT id, label FROM device")
    assert [(r["id"], r["label"]) for r in rows] == [(retried.device_id, "test phone")]
    supersedes = [a[2].get("supersedes") for a in _actions(call, services) if a[0] == "device.enroll"]
    assert supersedes == [None, lost.device_id]
    # and the retried phone syncs
    batch = Batch(retried, 1)
    assert retried.propose(batch.manifest).status_code == 201


def test_an_unconfirmed_enrolment_expires_with_its_code_and_never_becomes_a_device(http, new_code, services, call):
    phone = SyncClient(http)
    assert phone.enroll_unconfirmed(new_code()).status_code == 201
    call(services.store.execute, "UPDATE enrollment_code SET expires_at = '2000-01-01T00:00:00Z'")
    refused = phone.confirm()
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "enrollment_code_invalid"
    sync = http.get("/api/v1/devices/me", headers=phone.auth)
    assert sync.status_code == 401 and sync.json()["error"]["code"] == "device_unauthenticated"
    assert _device_count(call, services) == 0
    assert call(devices.list_pending, services.store) == []
    assert ("device.enroll.confirm", "4", {"code": "enrollment_code_invalid", "reason": "expired"}) \
        in _actions(call, services)


def test_a_confirmation_without_a_credential_is_refused_and_audited(http, services, call):
    for headers in ({}, {"Authorization": f"Bearer cpd_{uuid.uuid4()}_guess"}, {"Authorization": "Basic x"}):
        answer = http.post("/api/v1/devices/enroll/confirm", headers=headers)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "device_unauthenticated"
    assert [a[:2] for a in _actions(call, services)] == [("device.enroll.confirm", "4")] * 3


def test_pending_enrolments_are_listed_for_administrators_and_kept_off_the_station(http, admin, person, new_code):
    code = new_code("Bloc 3 phone")
    unused = new_code("Spare phone")
    phone = SyncClient(http)
    assert phone.enroll_unconfirmed(code, "Bloc 3 phone").status_code == 201
    listed = admin.get("/api/v1/admin/devices").json()
    assert listed["devices"] == []
    states = {p["label"]: (p["state"], p["pending_device_id"]) for p in listed["pending_enrollments"]}
    assert states == {"Bloc 3 phone": ("awaiting_confirmation", phone.device_id), "Spare phone": ("unused", None)}
    assert person("nurse").get("/api/v1/station/devices").json()["devices"] == []
    assert phone.confirm().status_code == 200
    listed = admin.get("/api/v1/admin/devices").json()
    assert [d["id"] for d in listed["devices"]] == [phone.device_id]
    assert [p["label"] for p in listed["pending_enrollments"]] == ["Spare phone"]
    assert unused


def test_list_devices_shows_pending_enrolments_and_first_start_keeps_offering_a_code(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        code = next(l.strip() for l in server.log.read_text().splitlines() if CODE.match(l.strip()))
        phone = SyncClient(httpx.Client(base_url=server.url))
        assert phone.enroll_unconfirmed(code, "Bloc 1 phone").status_code == 201
        listed = json.loads(server.cli("list-devices", "--json"))
        assert [(d["id"], d["state"], d["label"]) for d in listed] == [(phone.device_id, "pending", "Bloc 1 phone")]
        assert "pending" in server.cli("list-devices")
    finally:
        server.stop()
    server.start()  # a pending enrolment is no device: a fresh code is offered again
    server.stop()
    assert len([l for l in server.log.read_text().splitlines() if CODE.match(l.strip())]) == 2
