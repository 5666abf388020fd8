"""The docking station: phones report what they hold (counts only), a nurse asks a phone to sync now."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import both_backends
from tests.people.conftest import admin, audit, person  # noqa: F401  (fixtures)

HOLDING = {"pending_photos": 8, "pending_sequences": 2, "oldest_pending_at": "2026-12-03T04:00:00Z",
           "sync_state": "idle", "progress": None, "last_error_code": None}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def _report(http: Any, device: Any, **changes: Any) -> Any:
    return http.put("/api/v1/devices/me/status", json={**HOLDING, **changes}, headers=device.auth)


def _row(nurse: Any, device_id: str) -> dict[str, Any]:
    answer = nurse.get("/api/v1/station/devices")
    assert answer.status_code == 200
    return next(d for d in answer.json()["devices"] if d["id"] == device_id)


def test_station_shows_what_a_phone_holds_counts_only(http, device, person):
    nurse = person("nurse")
    assert _row(nurse, device.device_id)["pending_photos"] is None  # never reported: unknown, not zero
    assert _report(http, device).json() == {"sync_requested": False}
    row = _row(nurse, device.device_id)
    assert (row["pending_photos"], row["pending_sequences"], row["oldest_pending_at"]) == (8, 2, "2026-12-03T04:00:00Z")
    assert row["sync_state"] == "idle" and row["progress"] is None and row["status_at"] is not None
    _report(http, device, sync_state="syncing", progress={"done": 3, "total": 8})
    assert _row(nurse, device.device_id)["progress"] == {"done": 3, "total": 8}
    _report(http, device, sync_state="error", last_error_code="offline")
    assert _row(nurse, device.device_id)["last_error_code"] == "offline"
    assert "patient" not in str(nurse.get("/api/v1/station/devices").json()).lower()


def test_sync_request_round_trip_the_flag_clears_when_the_phone_reports_syncing(http, device, person, audit):
    nurse = person("nurse")
    assert _report(http, device).json() == {"sync_requested": False}
    asked = nurse.post(f"/api/v1/station/devices/{device.device_id}/sync")
    assert asked.status_code == 202
    assert _row(nurse, device.device_id)["sync_requested_at"] == asked.json()["sync_requested_at"]
    assert _report(http, device).json() == {"sync_requested": True}
    assert _report(http, device).json() == {"sync_requested": True}  # until it syncs
    assert _report(http, device, sync_state="syncing", progress={"done": 0, "total": 8}).json() == {"sync_requested": False}
    assert _row(nurse, device.device_id)["sync_requested_at"] is None
    _report(http, device, pending_photos=0, pending_sequences=0, oldest_pending_at=None, progress=None)
    assert _row(nurse, device.device_id)["pending_photos"] == 0
    (request,) = audit("station.sync_request")
    assert request["actor"] == f"user:{nurse.id}" and request["device_id"] == device.device_id
    (start,) = audit("device.sync.start")
    assert start["detail"]["on_request"] is True and start["detail"]["pending_photos"] == 8
    (finish,) = audit("device.sync.finish")
    assert finish["detail"]["pending_photos"] == 0


def test_a_phone_asked_before_its_first_report_learns_it_at_first_contact(http, device, admin):
    assert admin.post(f"/api/v1/station/devices/{device.device_id}/sync").status_code == 202
    assert _report(http, device).json() == {"sync_requested": True}


def test_progress_ticks_are_not_audited_only_state_changes(http, device, audit):
    _report(http, device)
    for done in range(5):
        _report(http, device, sync_state="syncing", progress={"done": done, "total": 8})
    _report(http, device, sync_state="error", last_error_code="server_unavailable")
    _report(http, device, sync_state="error", last_error_code="server_unavailable")
    assert len(audit("device.sync.start")) == 1
    (error,) = audit("device.sync.error")
    assert error["detail"]["last_error_code"] == "server_unavailable"
    assert len(audit("device.status.first")) == 1


@pytest.mark.parametrize("role", ["surgeon", "security_officer"])
def test_only_nurses_and_administrators_may_ask_a_phone_to_sync(device, person, role, audit):
    answer = person(role).post(f"/api/v1/station/devices/{device.device_id}/sync")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert audit("station.sync_request") == []


def test_a_person_cannot_report_a_device_status_and_a_device_cannot_ask_for_sync(http, device, admin):
    assert admin.post("/api/v1/devices/me/status", json=HOLDING).status_code in (401, 403, 405)
    refused = http.put("/api/v1/devices/me/status", json=HOLDING, headers=admin.headers())
    assert refused.status_code in (401, 403)
    assert http.post(f"/api/v1/station/devices/{device.device_id}/sync", headers=device.auth).status_code in (401, 403)


def test_sync_request_for_an_unknown_or_revoked_device_is_refused(http, device, admin):
    assert admin.post(f"/api/v1/station/devices/{uuid.uuid4()}/sync").json()["error"]["code"] == "device_not_found"
    assert admin.post("/api/v1/station/devices/not-a-uuid/sync").json()["error"]["code"] == "invalid_id"
    assert admin.post(f"/api/v1/admin/devices/{device.device_id}/revoke").status_code == 204
    answer = admin.post(f"/api/v1/station/devices/{device.device_id}/sync")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "device_not_found"


@pytest.mark.parametrize("changes, path", [
    ({"pending_photos": -1}, "/pending_photos"),
    ({"pending_photos": True}, "/pending_photos"),
    ({"pending_photos": 1.5}, "/pending_photos"),
    ({"pending_sequences": "2"}, "/pending_sequences"),
    ({"sync_state": "done"}, "/sync_state"),
    ({"oldest_pending_at": "yesterday"}, "/oldest_pending_at"),
    ({"oldest_pending_at": None}, "/oldest_pending_at"),
    ({"pending_photos": 0, "pending_sequences": 0}, "/oldest_pending_at"),
    ({"progress": {"done": 9, "total": 8}}, "/progress/done"),
    ({"progress": {"done": 1}}, "/progress"),
    ({"sync_state": "error"}, "/last_error_code"),
    ({"last_error_code": "Bad Code!"}, "/last_error_code"),
    ({"patient_id": "IPP-0042"}, "/patient_id"),
])
def test_device_status_is_validated_strictly_and_violations_never_echo_values(http, device, changes, path, services,
                                                                            call):
    answer = _report(http, device, **changes)
    assert answer.status_code == 422
    body = answer.json()["error"]
    assert body["code"] == "schema_invalid" and path in [v["path"] for v in body["details"]["violations"]]
    assert "IPP-0042" not in answer.text and "yesterday" not in answer.text
    (last,) = call(services.store.fetch_all, "SELECT * FROM audit_entry ORDER BY seq DESC LIMIT 1")
    assert last["outcome"] == "4" and json.loads(last["detail"])["code"] == "schema_invalid"
    assert last["actor"] == f"device:{device.device_id}" and "IPP-0042" not in str(last)
    assert call(services.store.fetch_all, "SELECT * FROM device_status") == []  # nothing kept


def test_device_status_refuses_a_body_that_is_not_an_object(http, device):
    answer = http.put("/api/v1/devices/me/status", json=[1, 2], headers=device.auth)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "schema_invalid"


def test_new_routes_are_in_the_openapi_document(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert "put" in paths["/api/v1/devices/me/status"]
    assert "post" in paths["/api/v1/station/devices/{device_id}/sync"]
