"""The audit API as security officers use it (by session) and machine clients (by token), on both backends."""
from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest

from sync_server.audit import merkle
from sync_server.audit.checkpoint import open_checkpoint, parse_vkey
from sync_server.audit.log import leaf_bytes
from tests.audit.officers import *  # noqa: F403  (fixtures)
from tests.audit.officers import BEARER, put


def _error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    return response.json()["error"]


# -- who may read ------------------------------------------------------------------------------


def test_an_officer_reads_the_journal_by_session_and_the_read_is_itself_logged(officer, audit):
    response = officer.get("/api/v1/audit/entries?order=desc&limit=5")
    assert response.status_code == 200, response.text
    body = response.json()
    assert 1 <= len(body["entries"]) <= 5
    mine = [e for e in body["entries"] if e["actor"] == f"user:{officer.id}"]
    assert mine and mine[0]["actor_name"] == "Claire Officer" and mine[0]["role"] == "security_officer"
    assert all(isinstance(e["detail"], dict) for e in body["entries"])
    read = audit("audit.read")[-1]
    assert read["actor"] == f"user:{officer.id}" and read["object"] == "/api/v1/audit/entries"
    assert read["detail"]["order"] == "desc" and read["outcome"] == "0"


@pytest.mark.parametrize("role", ["surgeon", "nurse", "administrator"])
def test_people_without_the_officer_role_are_refused_and_the_refusal_audited(person, role, audit):
    who = person(role)
    _error(who.get("/api/v1/audit/entries"), 403, "forbidden")
    _error(who.get("/api/v1/audit/alerts"), 403, "forbidden")
    refusal = audit("http.get")[-1]
    assert refusal["actor"] == f"user:{who.id}" and refusal["object"] == "/api/v1/audit/alerts"
    assert not [e for e in audit("audit.read") if e["actor"] == f"user:{who.id}"]


def test_the_audit_token_still_opens_the_api_for_machine_clients(http, audit):
    assert http.get("/api/v1/audit/entries", headers=BEARER).status_code == 200
    assert audit("audit.read")[-1]["actor"] == "token:audit"
    _error(http.get("/api/v1/audit/entries", headers={"Authorization": "Bearer wrong"}), 401, "audit_unauthenticated")


def test_an_officers_change_needs_the_csrf_token(officer):
    response = officer.http.put("/api/v1/audit/restricted-patients", json={
        "patient_id": "IPP-0042", "reason": "staff member", "restricted": True},
        headers={**officer.headers(), "X-CSRF-Token": "forged"})
    _error(response, 403, "csrf_failed")


# -- filters and pages ---------------------------------------------------------------------------


@pytest.fixture
def journal(append, device, officer):
    """A known set of entries after whatever sign-in and enrolment wrote."""
    surgeon = "user:0b0e7a5e-1111-4e0e-9e0e-0b0e7a5e1111"
    seqs = append(
        dict(action="photo.read", actor=surgeon, patient_id="IPP-1001", object="photo:a", address="10.0.0.1"),
        dict(action="photo.read", actor=surgeon, patient_id="IPP-2002", object="photo:b", outcome="4"),
        dict(action="photo.file", actor=f"device:{device.device_id}", device_id=device.device_id,
             patient_id="IPP-1001", object="photo:c"),
        dict(action="photo_bulk.read", actor=surgeon, patient_id="IPP-1001"),
        dict(action="person.signin", actor="anonymous", outcome="4", detail={"code": "passkey_invalid"}),
        dict(action="photo.read", actor=f"user:{officer.id}", patient_id="IPP-1001", outcome="12"),
    )
    return {"surgeon": surgeon, "seqs": seqs}


def _seqs(who, query):
    response = who.get(f"/api/v1/audit/entries?{query}&limit=1000")
    assert response.status_code == 200, response.text
    return [e["seq"] for e in response.json()["entries"]]


def test_each_filter_narrows_the_journal_and_filters_combine(officer, journal, device):
    s = journal["seqs"]
    surgeon = journal["surgeon"]
    assert _seqs(officer, "patient=IPP-1001") == [s[0], s[2], s[3], s[5]]
    assert _seqs(officer, f"person={surgeon}") == [s[0], s[1], s[3]]
    assert _seqs(officer, f"person={surgeon[5:]}") == [s[0], s[1], s[3]]  # a person id means user:<id>
    assert _seqs(officer, "person=anonymous&action=person.signin")[-1] == s[4]
    assert _seqs(officer, f"device={device.device_id}&action=photo.file") == [s[2]]
    assert _seqs(officer, "action=photo.&patient=IPP-1001") == [s[0], s[2], s[5]]  # a family: not photo_bulk
    assert _seqs(officer, "action=photo.read&outcome=4") == [s[1]]
    assert _seqs(officer, f"patient=IPP-1001&person={surgeon}&outcome=0") == [s[0], s[3]]
    assert _seqs(officer, "patient=IPP-0000") == []


def test_entries_carry_names_labels_hashes_and_parsed_detail(officer, journal, device, services, call):
    entries = officer.get(f"/api/v1/audit/entries?after={journal['seqs'][0] - 1}&limit=6").json()["entries"]
    filed = entries[2]
    assert filed["device_id"] == device.device_id and filed["device_label"] == "test phone"
    assert filed["actor_name"] is None and filed["role"] is None
    assert entries[5]["actor_name"] == "Claire Officer" and entries[5]["role"] == "security_officer"
    assert entries[4]["detail"] == {"code": "passkey_invalid"} and entries[0]["address"] == "10.0.0.1"
    assert set(entries[0]) == {"seq", "ts", "actor", "actor_name", "role", "device_id", "device_label", "action",
                               "outcome", "patient_id", "object", "address", "detail", "entry_hash", "leaf_hash"}
    for e in entries:
        assert base64.b64decode(e["leaf_hash"]) == merkle.leaf_hash(leaf_bytes(e))
        assert re.fullmatch(r"[0-9a-f]{64}", e["entry_hash"])


def test_a_period_is_since_inclusive_until_exclusive(officer, journal, services, call):
    rows = call(services.store.fetch_all, "SELECT seq, ts FROM audit_entry WHERE seq >= :a ORDER BY seq",
                {"a": journal["seqs"][0]})
    ts = rows[0]["ts"]
    assert all(r["seq"] in _seqs(officer, f"since={ts}") for r in rows)
    assert journal["seqs"][0] not in _seqs(officer, f"until={ts}")
    assert _seqs(officer, "since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00%2B02:00") == []
    assert journal["seqs"][0] in _seqs(officer, "since=2000-01-01")  # a date alone is its midnight, UTC


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_walk_the_whole_journal_once_in_either_order(officer, journal, order):
    everything = _seqs(officer, f"order={order}")
    assert everything == sorted(everything, reverse=order == "desc")
    seen, cursor = [], None
    while True:
        page = "" if cursor is None else (f"&after={cursor}" if order == "asc" else f"&before={cursor}")
        body = officer.get(f"/api/v1/audit/entries?order={order}&limit=4{page}").json()
        seen += [e["seq"] for e in body["entries"]]
        cursor = body["next"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    # reading pages appends audit.read entries; only those may come after what the first walk saw
    assert [s for s in seen if s in everything] == everything


@pytest.mark.parametrize("query,parameter", [
    ("outcome=3", "outcome"), ("since=yesterday", "since"), ("until=2024-13-01", "until"), ("limit=0", "limit"),
    ("limit=1001", "limit"), ("order=sideways", "order"), ("after=-1", "after"), ("before=1e3", "before"),
    ("patients=IPP-1001", "patients"), ("patient=a&patient=b", "patient"), ("person=" + "x" * 201, "person"),
])
def test_a_bad_filter_is_a_stable_error_naming_the_parameter(officer, query, parameter, audit):
    error = _error(officer.get(f"/api/v1/audit/entries?{query}"), 400, "audit_query_invalid")
    assert error["details"]["parameter"] == parameter
    assert audit("http.get")[-1]["detail"]["code"] == "audit_query_invalid"


# -- one entry and its proof -------------------------------------------------------------------


def test_an_entry_comes_with_an_inclusion_proof_verified_on_the_server_and_offline(officer, journal, http):
    seq = journal["seqs"][3]
    body = officer.get(f"/api/v1/audit/entries/{seq}").json()
    assert body["entry"]["seq"] == seq and body["entry"]["action"] == "photo_bulk.read"
    inclusion = body["inclusion"]
    assert inclusion["verified"] is True and inclusion["size"] >= seq
    checkpoint = http.get("/api/v1/audit/checkpoint", headers=BEARER).json()
    signed = open_checkpoint(checkpoint["checkpoint"], [parse_vkey(checkpoint["verifier_key"])])
    assert signed.size >= inclusion["size"]
    if signed.size == inclusion["size"]:  # the same tree: the officer's own check agrees
        merkle.verify_inclusion(seq - 1, signed.size, merkle.leaf_hash(leaf_bytes(body["entry"])),
                                [base64.b64decode(p) for p in inclusion["proof"]], signed.root)


def test_an_edited_entry_fails_its_inclusion_check(officer, journal, services, call):
    seq = journal["seqs"][0]
    assert officer.get(f"/api/v1/audit/entries/{seq}").json()["inclusion"]["verified"] is True
    call(services.store.execute, "UPDATE audit_entry SET patient_id = 'IPP-9999' WHERE seq = :s", {"s": seq})
    body = officer.get(f"/api/v1/audit/entries/{seq}").json()
    assert body["entry"]["patient_id"] == "IPP-9999" and body["inclusion"]["verified"] is False


def test_an_unknown_or_malformed_entry_number_is_a_clear_error(officer):
    _error(officer.get("/api/v1/audit/entries/999999"), 404, "audit_entry_not_found")
    assert _error(officer.get("/api/v1/audit/entries/abc"), 400, "audit_query_invalid")["details"]["parameter"] == "seq"
    _error(officer.get("/api/v1/audit/entries/0"), 400, "audit_query_invalid")


# -- verification status -----------------------------------------------------------------------


def _checkpoint_now(services, call):
    from sync_server.audit.service import log_origin
    from sync_server.audit.tree import issue_checkpoint

    return call(issue_checkpoint, services.store, services.keys, log_origin(services.settings), "test")


def test_an_untouched_log_is_verified_against_the_latest_checkpoint(officer, journal, audit, services, call):
    signed = _checkpoint_now(services, call)
    body = officer.get("/api/v1/audit/verification").json()
    assert body["status"] == "verified" and body["first_bad_seq"] is None
    assert body["checkpoint"]["size"] == signed.checkpoint.size >= journal["seqs"][-1]
    assert base64.b64decode(body["checkpoint"]["root_hash"]) == signed.checkpoint.root
    assert body["entries_checked"] >= journal["seqs"][-1]
    assert set(body) == {"status", "checkpoint", "entries_checked", "first_bad_seq", "checked_at", "mode",
                         "verified_from"}
    assert audit("audit.read")[-1]["detail"]["status"] == "verified"


def test_an_edited_entry_breaks_verification_and_is_named(officer, journal, services, call):
    _checkpoint_now(services, call)
    seq = journal["seqs"][2]
    call(services.store.execute, "UPDATE audit_entry SET actor = 'user:nobody' WHERE seq = :s", {"s": seq})
    body = officer.get("/api/v1/audit/verification").json()
    assert body["status"] == "broken" and body["first_bad_seq"] == seq


def test_a_cut_off_end_breaks_verification(officer, journal, services, call):
    last = journal["seqs"][-1]
    call(services.store.execute, "DELETE FROM audit_entry WHERE seq >= :s", {"s": last})
    body = officer.get("/api/v1/audit/verification").json()
    assert body["status"] == "broken" and body["first_bad_seq"] == last


def test_without_any_checkpoint_the_status_says_so(officer, services, call):
    call(services.store.execute, "DELETE FROM audit_checkpoint")
    body = officer.get("/api/v1/audit/verification").json()
    assert body == {**body, "status": "no_checkpoint", "checkpoint": None, "first_bad_seq": None}


def _head(services, call) -> int:
    return int(call(services.store.fetch_val, "SELECT seq FROM audit_head WHERE id = 1"))


def test_a_second_check_reads_only_the_entries_after_the_last_verified_checkpoint(officer, journal, append, services,
                                                                               call):
    first_point = _checkpoint_now(services, call).checkpoint.size
    head = _head(services, call)
    body = officer.get("/api/v1/audit/verification").json()
    assert body["status"] == "verified" and body["mode"] == "full" and body["verified_from"] == 0
    assert body["entries_checked"] == head  # everything, from the first entry
    new = append(*[dict(action="photo.read", actor="user:x", patient_id="IPP-7", object=f"photo:{i}")
                   for i in range(5)])
    second_point = _checkpoint_now(services, call).checkpoint.size
    assert second_point >= new[-1]
    head = _head(services, call)
    body = officer.get("/api/v1/audit/verification").json()
    assert body["status"] == "verified" and body["mode"] == "incremental"
    assert body["verified_from"] == first_point
    assert body["entries_checked"] == head - first_point  # the new entries only (with the reads logged since)
    assert body["entries_checked"] < first_point
    # again, with nothing new but the reads the checks logged: it starts from the second point
    head = _head(services, call)
    body = officer.get("/api/v1/audit/verification").json()
    assert body["mode"] == "incremental" and body["verified_from"] == second_point
    assert body["entries_checked"] == head - second_point


def test_a_change_before_the_verified_point_escapes_the_incremental_check_but_not_the_full_one(
        officer, journal, append, services, call):
    _checkpoint_now(services, call)
    assert officer.get("/api/v1/audit/verification").json()["status"] == "verified"
    append(dict(action="photo.read", actor="user:x", patient_id="IPP-7", object="photo:z"))
    _checkpoint_now(services, call)
    seq = journal["seqs"][1]  # long verified
    call(services.store.execute, "UPDATE audit_entry SET actor = 'user:nobody' WHERE seq = :s", {"s": seq})
    quick = officer.get("/api/v1/audit/verification").json()
    assert quick["mode"] == "incremental" and quick["verified_from"] > seq  # by design it does not reread it
    full = officer.get("/api/v1/audit/verification?full=true").json()
    assert full["mode"] == "full" and full["status"] == "broken" and full["first_bad_seq"] == seq
    # a broken result forgets the point: the next check starts from the first entry again
    after = officer.get("/api/v1/audit/verification").json()
    assert after["mode"] == "full" and after["status"] == "broken" and after["first_bad_seq"] == seq


def test_full_must_be_true_or_false(officer):
    response = officer.get("/api/v1/audit/verification?full=yes")
    _error(response, 400, "audit_query_invalid")


# -- exports -----------------------------------------------------------------------------------


def test_a_csv_export_has_a_header_one_row_per_entry_and_is_itself_logged(officer, journal, append, audit):
    append(dict(action="photo.read", actor="user:x", patient_id="IPP-1001", object="=HYPERLINK(\"http://x\")",
                detail={"reason": "-1+1"}))
    response = officer.get("/api/v1/audit/export.csv?patient=IPP-1001")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="clinphoto-audit-\d{8}T\d{6}Z\.csv"',
                        response.headers["content-disposition"])
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["seq", "ts", "actor"] and rows[0][-3:] == ["detail", "entry_hash", "leaf_hash"]
    listed = _seqs(officer, "patient=IPP-1001")
    assert [int(r[0]) for r in rows[1:]] == [s for s in listed if s < int(rows[-1][0]) + 1]
    assert rows[-1][10] == "'=HYPERLINK(\"http://x\")"  # a formula stays text in a spreadsheet
    assert json.loads(rows[1][12]) == {}
    export = audit("audit.export")[-1]
    assert export["actor"] == f"user:{officer.id}" and export["patient_id"] == "IPP-1001"
    # the patient searched for is the entry's own (sealed in the database), never a detail in clear
    assert export["detail"]["format"] == "csv" and export["detail"]["filters"] == {}


def test_an_ndjson_export_is_fhir_r4_audit_events(officer, journal, device):
    from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

    response = officer.get(f"/api/v1/audit/export.ndjson?device={device.device_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/fhir+ndjson"
    assert response.headers["content-disposition"].endswith('.ndjson"')
    events = [json.loads(line) for line in response.text.splitlines()]
    assert events and all(e["resourceType"] == "AuditEvent" for e in events)
    for event in events:
        FhirAuditEvent.model_validate(event)
    filed = next(e for e in events if e["subtype"][0]["code"] == "photo.file")
    assert filed["agent"][1]["who"]["display"] == "test phone" and filed["action"] == "C"


def test_a_bad_export_filter_is_refused_before_anything_is_written(officer, audit):
    _error(officer.get("/api/v1/audit/export.csv?outcome=2"), 400, "audit_query_invalid")
    _error(officer.get("/api/v1/audit/export.ndjson?limit=5"), 400, "audit_query_invalid")
    assert not audit("audit.export")


def test_an_export_streams_in_bounded_memory(officer, append, scan, call, monkeypatch):
    import asyncio
    import tracemalloc

    from sync_server.audit import search

    for round in range(10):  # 300 entries of one patient, then 2,700 of another
        append(*[dict(action="photo.read", actor="user:x", patient_id="IPP-0300" if round == 0 else "IPP-3000",
                      object=f"photo:{i}", detail={"padding": "p" * 200}) for i in range(300)])
    scan()  # the alert scanner reads these entries now, not while an export is measured
    monkeypatch.setattr(search, "EXPORT_PAGE", 100)

    def export(query: str) -> tuple[int, list[int]]:
        """(peak bytes allocated, body chunk sizes) of one CSV export through the whole ASGI app."""
        scope = {"type": "http", "method": "GET", "path": "/api/v1/audit/export.csv", "query_string": query.encode(),
                 "raw_path": b"/api/v1/audit/export.csv", "root_path": "", "scheme": "http", "http_version": "1.1",
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "state": {},
                 "headers": [(k.lower().encode(), v.encode()) for k, v in officer.headers().items()]}
        chunks: list[int] = []
        requested: list[bool] = []

        async def receive():
            if not requested:
                requested.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected until the answer is complete

        async def send(message):
            if message["type"] == "http.response.body":
                chunks.append(len(message.get("body", b"")))

        tracemalloc.start()
        try:
            call(officer.http.app, scope, receive, send)
            return tracemalloc.get_traced_memory()[1], chunks
        finally:
            tracemalloc.stop()

    export("patient=IPP-0300")  # warm up: first queries compile and cache statements
    small_peak, small = export("patient=IPP-0300")
    large_peak, large = export("action=photo.read")
    assert sum(large) > 9 * sum(small) > 1_000_000
    assert len(large) > 10 and max(large) < sum(large) / 10  # sent in pieces as it is read
    assert large_peak < 1.5 * small_peak, (large_peak, small_peak)  # memory does not grow with the export


# -- alerts and restricted patients ------------------------------------------------------------


def test_alerts_list_and_acknowledge(officer, scan, audit):
    officer.get("/api/v1/audit/entries")
    scan()
    opened = officer.get("/api/v1/audit/alerts").json()["alerts"]
    log_read = next(a for a in opened if a["kind"] == "log_read" and a["actor"] == f"user:{officer.id}")
    assert set(log_read) == {"id", "kind", "severity", "raised_at", "actor", "device_id", "patient_id", "count",
                             "first_seq", "last_seq", "acknowledged_at", "acknowledged_by"}
    assert log_read["acknowledged_at"] is None and log_read["count"] >= 1
    done = officer.post(f"/api/v1/audit/alerts/{log_read['id']}/acknowledge")
    assert done.status_code == 200, done.text
    alert = done.json()["alert"]
    assert alert["id"] == log_read["id"] and alert["acknowledged_by"] == f"user:{officer.id}" and alert["acknowledged_at"]
    assert audit("audit.alert.acknowledge")[-1]["object"] == f"alert:{log_read['id']}"
    again = officer.post(f"/api/v1/audit/alerts/{log_read['id']}/acknowledge").json()["alert"]
    assert again["acknowledged_at"] == alert["acknowledged_at"]  # acknowledging twice changes nothing
    assert log_read["id"] not in [a["id"] for a in officer.get("/api/v1/audit/alerts?status=open").json()["alerts"]]
    assert log_read["id"] in [a["id"] for a in officer.get("/api/v1/audit/alerts?status=all").json()["alerts"]]
    _error(officer.post("/api/v1/audit/alerts/424242/acknowledge"), 404, "audit_alert_not_found")
    _error(officer.get("/api/v1/audit/alerts?status=closed"), 400, "audit_query_invalid")


def test_an_officer_restricts_and_releases_a_patient(officer, audit):
    assert officer.get("/api/v1/audit/restricted-patients").json() == {"patients": []}
    response = put(officer, "/api/v1/audit/restricted-patients",
                   {"patient_id": "IPP-0042", "reason": "Hospital staff member", "restricted": True})
    assert response.status_code == 200, response.text
    [patient] = response.json()["patients"]
    assert patient["patient_id"] == "IPP-0042" and patient["reason"] == "Hospital staff member" and patient["since"]
    assert officer.get("/api/v1/audit/restricted-patients").json()["patients"] == [patient]
    change = audit("audit.restricted_patient.update")[-1]
    assert change["patient_id"] == "IPP-0042" and change["detail"]["restricted"] is True
    assert change["actor"] == f"user:{officer.id}"
    released = put(officer, "/api/v1/audit/restricted-patients", {"patient_id": "IPP-0042", "reason": "",
                                                                   "restricted": False})
    assert released.status_code == 200 and released.json() == {"patients": []}
    assert audit("audit.restricted_patient.update")[-1]["detail"]["was_restricted"] is True


@pytest.mark.parametrize("body", [
    {"patient_id": "IPP-0042", "reason": "", "restricted": True},
    {"patient_id": "no spaces allowed", "reason": "VIP", "restricted": True},
    {"patient_id": "IPP-0042", "reason": "VIP", "restricted": "yes"},
    {"patient_id": "IPP-0042", "reason": "VIP", "restricted": True, "extra": 1},
    ["IPP-0042"],
])
def test_a_bad_restriction_is_refused_and_audited(officer, body, audit):
    error = _error(put(officer, "/api/v1/audit/restricted-patients", body), 422, "schema_invalid")
    assert error["details"]["violations"]
    assert audit("http.put")[-1]["detail"]["code"] == "schema_invalid"
    assert officer.get("/api/v1/audit/restricted-patients").json() == {"patients": []}
