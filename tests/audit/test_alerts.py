"""Alerts: the pure detector on made-up entries, then the scanner on real requests, on both backends."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sync_server.audit import scanner as scanner_module
from sync_server.audit.alerts import Rules, hits_of
from sync_server.audit.scanner import AlertScanner
from sync_server.audit.log import AuditEvent, record_many
from sync_server.audit.log import append as append_one
from sync_server.audit.service import runtime
from sync_server.settings import Settings, SettingsError
from tests.audit.officers import *  # noqa: F403  (fixtures)
from tests.audit.officers import BEARER, for_officers, put
from tests.people.conftest import signin
from tests.people.test_permissions import _filed_photo

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday, 11:00 in Paris


def _entry(seq, at=0.0, **fields):
    base = {"seq": seq, "ts": (T0 + timedelta(seconds=at)).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "actor": "anonymous", "device_id": None, "action": "photo.read", "outcome": "0", "patient_id": None,
            "object": None, "detail": "{}", "address": None}
    return {**base, **fields}


def _failure(seq, at, address="10.0.0.9", person=None, action="person.signin"):
    detail = {"code": "passkey_invalid", **({"person": person} if person else {})}
    return _entry(seq, at, action=action, outcome="4", address=address, detail=detail)


RULES = Rules(failed_signins=3, failed_signin_seconds=60, bulk_photos=4, bulk_patients=3, bulk_seconds=120,
              working_hours=(7 * 60, 20 * 60), working_days=frozenset(range(5)), tz=ZoneInfo("Europe/Paris"))


# -- the detector alone --------------------------------------------------------------------------


def test_failed_signins_from_one_address_alert_at_the_threshold_within_the_window():
    hits = hits_of([_failure(1, 0), _failure(2, 10), _failure(3, 20), _failure(4, 30)], RULES)
    assert [(h.kind, h.seq, h.first_seq, h.count) for h in hits] == [
        ("failed_signins", 3, 1, 3), ("failed_signins", 4, 1, 4)]
    assert hits[0].subject == "address:10.0.0.9" and hits[0].severity == "medium"


def test_failed_signins_spread_wider_than_the_window_raise_nothing():
    assert hits_of([_failure(1, 0), _failure(2, 40), _failure(3, 80), _failure(4, 120)], RULES) == []


def test_failed_signins_for_one_person_from_many_addresses_alert_per_person():
    person = "6a1f0e2c-0000-4000-8000-000000000001"
    hits = hits_of([_failure(i, i, address=f"10.0.0.{i}", person=person) for i in range(1, 4)], RULES)
    assert [(h.subject, h.actor) for h in hits] == [(f"person:{person}", f"user:{person}")]


def test_every_kind_of_authentication_failure_counts_and_a_long_burst_is_high():
    actions = ["passkey.register", "device.enroll", "device.authenticate"] * 3
    hits = hits_of([_failure(i, i, action=a) for i, a in enumerate(actions, start=1)], RULES)
    assert hits[-1].count == 9 and hits[-1].severity == "high"
    assert hits_of([_failure(i, i, action="photo.read") for i in range(1, 6)], RULES) == []


def test_a_revoked_device_contact_alerts_at_once_and_is_not_a_failed_signin():
    entry = _entry(1, action="device.authenticate", outcome="4", device_id="d1", actor="device:d1",
                   detail={"code": "device_revoked"})
    [hit] = hits_of([entry] * 1, RULES)
    assert (hit.kind, hit.severity, hit.device_id) == ("revoked_device", "high", "d1")


def test_bulk_reading_of_distinct_photos_or_patients_by_one_person_alerts():
    photos = [_entry(i, i, actor="user:p", patient_id="IPP-0001", object=f"photo:{i}") for i in range(1, 5)]
    assert [h.kind for h in hits_of(photos, RULES)] == ["bulk_access"]
    patients = [_entry(i, i, actor="user:p", patient_id=f"IPP-000{i}", object="photo:same") for i in range(1, 4)]
    [hit] = hits_of(patients, RULES)
    assert (hit.kind, hit.first_seq, hit.count, hit.actor) == ("bulk_access", 1, 3, "user:p")
    same = [_entry(i, i, actor="user:p", patient_id="IPP-0001", object="photo:1") for i in range(1, 20)]
    assert hits_of(same, RULES) == []  # the same photo again and again is not bulk
    slow = [_entry(i, i * 100, actor="user:p", patient_id="IPP-0001", object=f"photo:{i}") for i in range(1, 9)]
    assert hits_of(slow, RULES) == []  # never four distinct photos within two minutes
    devices = [_entry(i, i, actor="device:d", patient_id="IPP-0001", object=f"photo:{i}") for i in range(1, 9)]
    assert hits_of(devices, RULES) == []  # syncing is not a person viewing


def test_off_hours_follow_the_local_time_zone_and_working_days():
    def at(utc: datetime) -> list[str]:
        seconds = (utc - T0).total_seconds()
        return [h.kind for h in hits_of([_entry(1, seconds, actor="user:p", patient_id="IPP-0001")], RULES)]

    assert at(datetime(2026, 3, 2, 5, 59, tzinfo=timezone.utc)) == ["off_hours"]  # 06:59 Paris, winter time
    assert at(datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)) == []  # 07:00 Paris, winter time
    assert at(datetime(2026, 7, 6, 5, 30, tzinfo=timezone.utc)) == []  # 07:30 Paris, summer time
    assert at(datetime(2026, 3, 2, 19, 0, tzinfo=timezone.utc)) == ["off_hours"]  # 20:00 Paris
    assert at(datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc)) == ["off_hours"]  # a Saturday
    assert hits_of([_entry(1, 3600 * 12, actor="user:p", action="session.open")], RULES) == []  # no patient data
    overnight = dataclasses.replace(RULES, working_hours=(22 * 60, 6 * 60))
    assert overnight.off_hours(datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc).timestamp()) is False
    assert overnight.off_hours(datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc).timestamp()) is True
    assert dataclasses.replace(RULES, working_hours=None).off_hours(T0.timestamp() + 3600 * 12) is False


def test_restricted_patients_alert_on_any_access_after_they_were_flagged():
    since = _entry(0, 50)["ts"]
    entries = [_entry(1, 10, actor="user:p", patient_id="IPP-0042"),  # before the flag
               _entry(2, 60, actor="user:p", patient_id="IPP-0042"),
               _entry(3, 70, actor="device:d", action="photo.file", patient_id="IPP-0042"),
               _entry(4, 80, actor="system:decoder", action="photo.verify", patient_id="IPP-0042"),
               _entry(5, 90, actor="user:p", patient_id="IPP-0043"),
               _entry(6, 95, actor="user:o", action="audit.read", patient_id="IPP-0042")]
    hits = [h for h in hits_of(entries, RULES, {"IPP-0042": since}) if h.kind == "restricted_patient"]
    assert [(h.seq, h.subject) for h in hits] == [(2, "IPP-0042|user:p"), (3, "IPP-0042|device:d")]


def test_every_read_of_the_log_alerts_and_an_export_more_loudly():
    hits = hits_of([_entry(1, actor="user:o", action="audit.read", object="/api/v1/audit/entries"),
                    _entry(2, actor="token:audit", action="audit.export"),
                    _entry(3, actor="user:o", action="audit.read", outcome="4")], RULES)
    assert [(h.kind, h.severity, h.actor) for h in hits] == [("log_read", "low", "user:o"),
                                                            ("log_read", "medium", "token:audit")]


def test_the_officers_own_work_on_the_log_is_not_patient_access():
    entries = [_entry(i, 3600 * 12 + i, actor="user:o", action="audit.read", patient_id=f"IPP-000{i}")
               for i in range(1, 6)]
    assert {h.kind for h in hits_of(entries, RULES, {"IPP-0001": "2000"})} == {"log_read"}


def test_alert_settings_are_checked_at_start():
    assert Rules.from_settings(Settings(audit_working_hours="off")).working_hours is None
    rules = Rules.from_settings(Settings(audit_working_days="sat-mon", audit_timezone="America/New_York"))
    assert rules.working_days == {5, 6, 0} and rules.tz.key == "America/New_York"
    for name, value in (("CLINPHOTO_AUDIT_WORKING_HOURS", "7-20"), ("CLINPHOTO_AUDIT_WORKING_HOURS", "07:00-07:00"),
                        ("CLINPHOTO_AUDIT_WORKING_DAYS", "weekdays"), ("CLINPHOTO_AUDIT_TIMEZONE", "Mars/Olympus"),
                        ("CLINPHOTO_AUDIT_ALERT_FAILED_SIGNINS", "0")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


# -- the scanner on real requests ----------------------------------------------------------------


def _working_hours_excluding_now() -> str:
    start = datetime.now(timezone.utc) + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.fixture
def settings(settings):  # noqa: F811  (this module's own: low thresholds, and now is off-hours)
    return for_officers(settings, audit_alert_failed_signins=3, audit_alert_bulk_photos=3,
                        audit_working_hours=_working_hours_excluding_now(), audit_timezone="UTC")


def test_a_burst_of_failed_signins_raises_one_alert_per_address_and_per_person(http, person, scan, stored_alerts,
                                                                             audit):
    surgeon = person("surgeon")
    for _ in range(4):
        assert signin(http, surgeon.authn, origin="https://evil.example").status_code == 401
    scan()
    failures = [e["seq"] for e in audit("person.signin") if e["outcome"] == "4"]
    by_subject = {a["subject"]: a for a in stored_alerts("failed_signins")}
    assert set(by_subject) == {"address:testclient", f"person:{surgeon.id}"}
    person_alert = by_subject[f"person:{surgeon.id}"]
    assert person_alert["actor"] == f"user:{surgeon.id}" and person_alert["entry_count"] == 4
    assert (person_alert["first_seq"], person_alert["last_seq"]) == (failures[0], failures[-1])
    scan()
    assert len(stored_alerts("failed_signins")) == 2  # scanning again raises nothing twice


def test_contact_from_a_revoked_device_raises_a_high_alert(http, admin, device, scan, officer):
    assert admin.post(f"/api/v1/admin/devices/{device.device_id}/revoke").status_code == 204
    assert http.get("/api/v1/devices/me", headers=device.auth).status_code == 401
    scan()
    [alert] = [a for a in officer.get("/api/v1/audit/alerts").json()["alerts"] if a["kind"] == "revoked_device"]
    assert alert["device_id"] == device.device_id and alert["severity"] == "high" and alert["count"] == 1


def test_viewing_a_restricted_patient_raises_an_alert_naming_who_and_whom(officer, person, device, batch_of,
                                                                        services, call, scan):
    photo_id, patient = _filed_photo(device, batch_of, services, call)
    assert put(officer, "/api/v1/audit/restricted-patients",
               {"patient_id": patient, "reason": "Member of staff", "restricted": True}).status_code == 200
    surgeon = person("surgeon")
    assert surgeon.get(f"/api/v1/photos/{photo_id}/thumbnail").status_code == 200
    scan()
    [alert] = [a for a in officer.get("/api/v1/audit/alerts").json()["alerts"] if a["kind"] == "restricted_patient"]
    assert alert["patient_id"] == patient and alert["actor"] == f"user:{surgeon.id}" and alert["severity"] == "high"


def test_a_person_reading_many_photos_raises_a_bulk_alert(append, scan, stored_alerts):
    seqs = append(*[dict(action="photo.read", actor="user:reader", patient_id="IPP-0042", object=f"photo:{i}")
                    for i in range(5)])
    scan()
    [alert] = stored_alerts("bulk_access")
    assert (alert["first_seq"], alert["last_seq"], alert["entry_count"]) == (seqs[0], seqs[-1], 5)


def test_reading_patient_data_outside_working_hours_raises_an_off_hours_alert(person, device, batch_of, services,
                                                                             call, scan, stored_alerts):
    photo_id, patient = _filed_photo(device, batch_of, services, call)
    surgeon = person("surgeon")
    for _ in range(2):
        assert surgeon.get(f"/api/v1/photos/{photo_id}/thumbnail").status_code == 200
    scan()
    [alert] = stored_alerts("off_hours")
    assert alert["actor"] == f"user:{surgeon.id}" and alert["patient_id"] == patient and alert["entry_count"] == 2


def test_reads_of_the_log_share_an_alert_until_it_is_acknowledged(http, officer, scan, stored_alerts):
    for _ in range(3):
        assert http.get("/api/v1/audit/checkpoint", headers=BEARER).status_code == 200
    scan()
    [alert] = [a for a in stored_alerts("log_read") if a["actor"] == "token:audit"]
    assert alert["entry_count"] == 3
    assert officer.post(f"/api/v1/audit/alerts/{alert['id']}/acknowledge").status_code == 200
    http.get("/api/v1/audit/checkpoint", headers=BEARER)
    scan()
    token_alerts = [a for a in stored_alerts("log_read") if a["actor"] == "token:audit"]
    assert len(token_alerts) == 2 and token_alerts[-1]["entry_count"] == 1


def test_a_read_of_the_log_wakes_the_scanner_at_once(http, stored_alerts, services, call):
    http.get("/api/v1/audit/checkpoint", headers=BEARER)

    async def until_raised() -> None:
        while not await services.store.fetch_all("SELECT id FROM audit_alert WHERE kind = 'log_read'"):
            await asyncio.sleep(0.02)

    call(asyncio.wait_for, until_raised(), 10)  # the timer is an hour away in these tests


# -- crash safety and failures -----------------------------------------------------------------


def test_after_a_restart_the_scanner_continues_from_its_cursor_with_its_windows_rebuilt(append, scan, services, call,
                                                                                       stored_alerts):
    failure = dict(action="person.signin", actor="anonymous", outcome="4", address="10.9.9.9",
                   detail={"code": "passkey_invalid"})
    first = append(failure, failure)
    scan()
    assert not stored_alerts("failed_signins")
    restarted = AlertScanner(services.store, runtime(services).alerts.rules)  # a new process: empty windows
    append(failure)
    call(restarted.scan)
    [alert] = stored_alerts("failed_signins")
    assert alert["first_seq"] == first[0] and alert["entry_count"] == 3
    scan()  # the old scanner finds the cursor moved under it: nothing is raised twice
    append(failure)
    call(restarted.scan)
    assert [a["entry_count"] for a in stored_alerts("failed_signins")] == [4]


def test_a_failing_alert_store_never_blocks_appends_is_reported_and_catches_up(append, services, call, stored_alerts,
                                                                              caplog, monkeypatch, audit):
    scanner = AlertScanner(services.store, runtime(services).alerts.rules)
    call(scanner.scan)  # up to date
    cursor = call(services.store.fetch_val, "SELECT seq FROM audit_alert_cursor")

    failed = asyncio.Event()  # set by each scan round that hit the broken store

    async def broken(*args, **kwargs):
        failed.set()
        raise RuntimeError("database said no about IPP-0042")

    monkeypatch.setattr(scanner_module, "_store", broken)
    revoked = dict(action="device.authenticate", actor="device:d9", device_id="d9", outcome="4",
                   patient_id="IPP-0042", detail={"code": "device_revoked"})

    async def run_while_appending() -> list[int]:
        task = asyncio.get_running_loop().create_task(scanner.run(0.02))
        seqs = []
        for _ in range(5):
            failed.clear()
            seqs += await record_many(services.store, [AuditEvent(**revoked)])
            await asyncio.wait_for(failed.wait(), 10)  # a scan round ran, and failed, after this append
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return seqs

    with caplog.at_level(logging.ERROR, logger="clinphoto.audit.alerts"):
        seqs = call(run_while_appending)
    assert len(seqs) == 5 and not stored_alerts("revoked_device")  # every entry appended, no alert stored
    assert call(services.store.fetch_val, "SELECT seq FROM audit_alert_cursor") == cursor
    failures = audit("audit.alert.failure")
    assert len(failures) == 1 and failures[0]["detail"] == {"error": "RuntimeError", "stage": "scan"}
    assert "audit alert scan failed (RuntimeError)" in caplog.text and "IPP-0042" not in caplog.text
    monkeypatch.undo()
    call(scanner.scan)
    [alert] = stored_alerts("revoked_device")
    assert (alert["first_seq"], alert["last_seq"], alert["entry_count"]) == (seqs[0], seqs[-1], 5)


def test_an_unreadable_entry_is_skipped_logged_and_kept(append, services, call, scan, stored_alerts, audit, caplog):
    async def append_then_spoil() -> int:  # in one transaction: no scan ever sees the entry whole
        async with services.store.write() as db:
            seq = await append_one(db, AuditEvent(action="photo.read", actor="user:p", patient_id="IPP-0042"))
            await db.execute("UPDATE audit_entry SET detail = '{not json' WHERE seq = :s", {"s": seq})
        return seq

    bad = call(append_then_spoil)
    append(dict(action="device.authenticate", actor="device:d1", device_id="d1", outcome="4",
                detail={"code": "device_revoked"}))
    with caplog.at_level(logging.ERROR, logger="clinphoto.audit.alerts"):
        scan()
    assert stored_alerts("revoked_device")
    assert audit("audit.alert.failure")[-1]["detail"] == {"seq": bad, "error": "JSONDecodeError", "stage": "detect"}
    assert f"could not read entry {bad}" in caplog.text
    assert call(services.store.fetch_val, "SELECT COUNT(*) FROM audit_entry WHERE seq = :s", {"s": bad}) == 1
