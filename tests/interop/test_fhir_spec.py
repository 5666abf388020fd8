"""The FHIR read API by the specification: date prefixes with offsets, token systems, OperationOutcome errors,
consistent content, rest.security, lenient or strict handling, 406 for formats not served. Every resource is
validated with the fhir.resources models."""
from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.media import Media

from sync_server.interop import fhir
from sync_server.interop.uids import instance_uid
from tests.interop.conftest import error_code, sync
from tests.support.waiting import wait_for

FHIR = {"Authorization": "Bearer fhir-token"}
STRICT = {**FHIR, "Prefer": "handling=strict"}
TIMES = ["2025-12-31T22:30:00Z", "2025-12-31T23:30:00Z", "2026-01-01T10:00:00Z"]


@pytest.fixture
def database_url() -> None:
    return None  # SQLite: the SQL is the same on PostgreSQL, which test_access runs


@pytest.fixture
def photos(index: None, device: Any, batch_of: Any, call: Any, services: Any) -> list[str]:
    batch = batch_of(3)
    for entry, moment in zip(batch.manifest["photos"], TIMES):
        entry["captured_at"] = moment
    sync(device, batch)
    wait_for(lambda: call(services.store.fetch_val, "SELECT COUNT(*) FROM sequence_identity si JOIN photo p ON "
                          "p.sequence_id = si.sequence_id WHERE p.state = 'verified' AND si.state = 'reconciled'") == 3,
             what="photos verified and reconciled")
    by_time = {e["captured_at"]: e["photo_id"] for e in batch.manifest["photos"]}
    return [by_time[t] for t in TIMES]


def _search(http: Any, path: str = "/fhir/r4/Media", headers: dict[str, str] = FHIR, **params: str) -> list[str]:
    response = http.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    bundle = Bundle.model_validate(response.json())
    for entry in bundle.entry or []:
        type(entry.resource).model_validate(entry.resource.model_dump())
    return sorted(e.resource.id for e in bundle.entry or [])


def test_date_prefixes_honour_the_time_zone_offset(http, photos):
    early, late_utc, next_day = photos
    # midnight in Paris (UTC+1) is 23:00 UTC on 31 December: only the 23:30 UTC and later photos are after it
    assert _search(http, created="ge2026-01-01T00:00:00+01:00") == sorted([late_utc, next_day])
    assert _search(http, created="lt2026-01-01T00:00:00+01:00") == [early]
    assert _search(http, created="ge2026-01-01T00:00:00Z") == [next_day]
    assert _search(http, created="2025-12-31") == sorted([early, late_utc])
    assert _search(http, created="gt2025-12-31") == [next_day]
    assert _search(http, created="le2025-12") == sorted([early, late_utc])
    assert _search(http, created="ne2026") == sorted([early, late_utc])
    for bad in ("ge2026-01-01T00:00:00", "2026-13-01", "yesterday"):
        refused = http.get("/fhir/r4/Media", params={"created": bad}, headers=FHIR)
        assert refused.status_code == 400 and error_code(refused) == "fhir_search_invalid", bad


def test_token_search_honours_the_identifier_system(http, photos, services):
    one = photos[0]
    assert _search(http, identifier=f"urn:ietf:rfc:3986|urn:uuid:{one}") == [one]
    assert _search(http, identifier=f"urn:uuid:{one}") == [one]
    assert _search(http, identifier=f"http://other.example/ids|urn:uuid:{one}") == []
    assert _search(http, identifier=f"urn:ietf:rfc:3986|{one}") == []  # the value under that system is the URN
    system = services.settings.patient_id_system
    assert _search(http, "/fhir/r4/Patient", identifier=f"{system}|IPP-0077") == ["IPP-0077"]
    assert _search(http, "/fhir/r4/Patient", identifier="urn:oid:1.2.3|IPP-0077") == []
    assert _search(http, "/fhir/r4/Patient", identifier="IPP-0077") == ["IPP-0077"]
    dicom = http.get("/fhir/r4/Media", params={"identifier": f"urn:dicom:uid|urn:oid:{instance_uid(one)}"},
                     headers=FHIR)
    assert dicom.status_code == 400 and error_code(dicom) == "fhir_search_invalid"


def test_errors_are_operation_outcomes_with_the_stable_code(http, photos):
    for path, headers, status, code in (
            ("/fhir/r4/Media/not-a-uuid", FHIR, 404, "not_found"),
            ("/fhir/r4/Patient/IPP-9999", FHIR, 404, "not_found"),
            ("/fhir/r4/Media", {}, 401, "interop_unauthenticated"),
            ("/fhir/r5/Patient/IPP-0042", FHIR, 404, "interop_disabled")):
        response = http.get(path, headers=headers)
        assert response.status_code == status and error_code(response) == code, path
    bad = http.get("/fhir/r4/Media", params={"_count": "many"}, headers=FHIR)
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["_count"]


def test_unknown_and_unsupported_parameters_are_ignored_unless_strict_handling_is_asked(http, photos):
    lenient = http.get("/fhir/r4/Media", params={"patient": "IPP-0042", "_summary": "true", "_elements": "id",
                                                 "_sort": "-created", "colour": "blue"}, headers=FHIR)
    assert lenient.status_code == 200 and lenient.json()["total"] == 3
    self_link = next(link["url"] for link in lenient.json()["link"] if link["relation"] == "self")
    assert "patient=IPP-0042" in self_link and "colour" not in self_link and "_sort" not in self_link
    assert _search(http, "/fhir/r4/Patient", colour="blue") == ["IPP-0042", "IPP-0077"]
    for name in ("colour", "_text"):
        strict = http.get("/fhir/r4/Media", params={name: "x"}, headers=STRICT)
        assert strict.status_code == 400 and error_code(strict) == "fhir_search_invalid"
        assert strict.json()["issue"][0]["expression"] == [name]
    # _summary, _elements and _sort are accepted even strictly: the answer is the whole resources, in key order
    assert http.get("/fhir/r4/Media", params={"_sort": "-created"}, headers=STRICT).status_code == 200


def test_only_json_is_served_and_anything_else_gets_406(http, photos):
    for params, accept in (({"_format": "xml"}, None), ({"_format": "application/fhir+xml"}, None),
                           ({}, "application/fhir+xml"), ({}, "text/turtle"), ({}, "application/json;q=0, text/html")):
        headers = {**FHIR, **({"Accept": accept} if accept else {})}
        for path in ("/fhir/r4/Media", f"/fhir/r4/Media/{photos[0]}", "/fhir/r4/metadata"):
            response = http.get(path, params=params, headers=headers)
            assert response.status_code == 406 and error_code(response) == "fhir_format_unsupported", (path, params)
    for params, accept in (({"_format": "json"}, None), ({"_format": "application/fhir+json"}, None),
                           ({}, "application/fhir+json"), ({}, "application/fhir+xml;q=0.9, */*;q=0.1"), ({}, None)):
        headers = {**FHIR, **({"Accept": accept} if accept else {})}
        assert http.get("/fhir/r4/Media", params=params, headers=headers).status_code == 200, (params, accept)


def test_capability_statement_describes_security(http):
    statement = CapabilityStatement.model_validate(http.get("/fhir/r4/metadata").json())
    security = statement.rest[0].security
    assert security.cors is False and not security.service
    assert "Bearer" in security.description and "session" in security.description


def test_media_content_type_and_url_agree():
    photo = {"id": "6f1c2b9e-8d7a-4c3b-9a2e-1f0e5d4c3b2a", "mime": "image/jpeg", "size": 1234,
             "captured_at": "2026-01-01T10:00:00Z", "view": "frontal", "width": 10, "height": 10}
    form = {"sequence_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "anatomical_region": "nose", "laterality": "left"}
    without_pacs = Media.model_validate(fhir.media(photo, form, "IPP-0042", system="urn:x"))
    assert (without_pacs.content.contentType, without_pacs.content.size, without_pacs.content.url) == \
        ("image/jpeg", 1234, None)
    with_pacs = Media.model_validate(fhir.media(photo, form, "IPP-0042", system="urn:x",
                                                wado_base="http://pacs/dicom-web"))
    assert with_pacs.content.contentType == "image/jpeg" and with_pacs.content.size is None
    assert with_pacs.content.url.endswith(f"/instances/{instance_uid(photo['id'])}/rendered")
