"""The OpenAPI document is a contract: schemathesis drives every operation of the real app in process.

Each operation gets the credential its ``security`` declares (device bearer, a session of a person
holding an allowed role, a service bearer token), examples are generated from the declared
parameters and bodies (derandomized, bounded), and every answer must be declared: status code,
content type, body schema and headers, and never a server error.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance)
from starlette.testclient import TestClient

from sync_server.app import create_app
from sync_server.auth import people
from sync_server.auth.devices import create_enrollment_code
from sync_server.routes import rule_for
from sync_server.settings import Settings
from tests.people.conftest import ORIGIN, Person, as_person, register
from tests.support.client import SyncClient

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = 12  # per operation, valid and invalid data mixed
# a tus chunk is raw bytes, serialized as application/octet-stream is
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
TOKENS = {"auditToken": "audit-token-for-tests", "fhirToken": "fhir-token-for-tests",
          "interopToken": "interop-token-for-tests"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", pwa_dir=tmp_path / "no-pwa", max_pixels=40_000_000,
                    max_blob_bytes=8 * 1024 * 1024, max_json_bytes=256 * 1024, database_url=database_url,
                    audit_token=TOKENS["auditToken"], fhir_token=TOKENS["fhirToken"],
                    interop_admin_token=TOKENS["interopToken"])


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=ORIGIN) as client:
        yield client


def _people(http: TestClient) -> dict[str, Person]:
    services = http.app.state.services  # type: ignore[attr-defined]
    link, _ = http.portal.call(people.first_admin_link, services.store, services.settings)  # type: ignore[union-attr]
    admin = as_person(http, register(http, link))
    out = {"administrator": admin}
    for role in ("surgeon", "nurse", "security_officer"):
        invited = admin.post("/api/v1/admin/people", json={"name": f"Dr {role}", "roles": [role]})
        assert invited.status_code == 201, invited.text
        out[role] = as_person(http, register(http, invited.json()["registration_url"]))
    return out


def _credentials(operation: Any, persons: dict[str, Person], device: SyncClient) -> dict[str, str]:
    """The headers of the first credential the operation's ``security`` accepts."""
    security = operation.definition.raw.get("security", [])
    for requirement in security:
        if not requirement:
            return {}
        scheme = next(iter(requirement))
        if scheme == "deviceCredential":
            return device.auth
        if scheme in TOKENS:
            return {"Authorization": f"Bearer {TOKENS[scheme]}"}
        if scheme == "session":
            rule = rule_for(operation.method.upper(), operation.path) or frozenset()
            role = next((r for r in ("surgeon", "security_officer", "administrator", "nurse") if r in rule),
                        "administrator")
            return persons[role].headers()
    return {}


def test_every_operation_declares_its_security_and_answers(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation["security"], (method, path)
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes) and "400" in codes and "404" in codes, (method, path)
            if operation["security"] != [{}]:
                assert {"401", "403"} <= codes, (method, path)
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("batch_id", "photo_id", "sequence_id", "device_id", "person_id"):
                    assert parameter["schema"]["format"] == "uuid", (method, path)
    tus = spec["paths"]["/api/v1/uploads/{upload_id}"]["patch"]
    assert {p["name"] for p in tus["parameters"]} >= {"Tus-Resumable", "Upload-Offset", "Upload-Checksum"}
    assert "application/offset+octet-stream" in tus["requestBody"]["content"]
    assert {"200", "201", "422"} <= set(spec["paths"]["/api/v1/batches"]["post"]["responses"])
    assert spec["paths"]["/api/v1/audit/entries"]["get"]["security"] == [{"session": []}, {"auditToken": []}]


def test_every_operation_keeps_its_contract(app_client: TestClient) -> None:
    http = app_client
    persons = _people(http)
    device = SyncClient(http)
    services = http.app.state.services  # type: ignore[attr-defined]
    code, _ = http.portal.call(create_enrollment_code, services.store, "contract phone", 900)  # type: ignore[union-attr]
    assert device.enroll(code).status_code == 201
    http.cookies.clear()

    schema = schemathesis.openapi.from_dict(http.get("/openapi.json").json())
    failures: list[str] = []
    started = time.monotonic()
    operations = examples = 0
    seen: dict[str, set[int]] = {}
    # signing out ends the session the other operations use: it runs last
    ordered = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: op.path == "/api/v1/auth/signout")
    for operation in ordered:
        operations += 1
        auth = _credentials(operation, persons, device)
        calls = [0]

        # data that fits the schema, and data that does not (every refusal must be a declared answer too)
        @given(case=st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)))
        @hsettings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))
        def exercise(case: Any) -> None:
            calls[0] += 1
            kwargs = case.as_transport_kwargs(base_url=ORIGIN, headers=auth)
            kwargs.pop("timeout", None)
            kwargs.pop("allow_redirects", None)
            data = kwargs.pop("data", None)
            if data is not None:
                kwargs["content" if isinstance(data, (bytes, str)) else "data"] = data
            response = http.request(**kwargs)
            seen.setdefault(f"{operation.method.upper()} {operation.path}", set()).add(response.status_code)
            http.cookies.clear()
            case.validate_response(response, checks=CHECKS)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # every failing operation, all reported at the end
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            failures.append(f"{operation.method.upper()} {operation.path}: " + " | ".join(lines[:8]))
        examples += calls[0]
    elapsed = time.monotonic() - started
    print(f"schemathesis: {operations} operations, {examples} examples, {len(failures)} failing, {elapsed:.0f} s")
    for label, statuses in sorted(seen.items()):
        print(f"  {label}: {sorted(statuses)}")
    assert operations >= 70
    # the declared credentials really open the doors: device, each kind of session, service tokens
    for label in ("GET /api/v1/devices/me", "GET /api/v1/admin/people", "GET /api/v1/station/devices",
                  "GET /api/v1/audit/checkpoint", "GET /api/v1/patients/recent", "GET /fhir/r4/metadata",
                  "GET /api/v1/interop/quarantine"):
        assert any(200 <= status < 300 for status in seen[label]), (label, seen[label])
    assert not failures, "\n".join(failures)


def test_a_whole_sync_answers_as_declared(http: TestClient, device: SyncClient, batch_of: Any) -> None:
    """The success answers random data rarely reaches: a real batch, proposed twice, uploaded over tus, committed."""
    schema = schemathesis.openapi.from_dict(http.get("/openapi.json").json())
    batch = batch_of(1)

    def check(method: str, path: str, response: Any, status: int) -> None:
        assert response.status_code == status, response.text
        schema[path][method].validate_response(response)

    check("POST", "/api/v1/batches", device.propose(batch.manifest), 201)
    check("POST", "/api/v1/batches", device.propose(batch.manifest), 200)
    photo = batch.photos[0]
    created = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed))
    check("POST", "/api/v1/uploads", created, 201)
    location = created.headers["location"]
    check("HEAD", "/api/v1/uploads/{upload_id}", device.head(location), 200)
    check("PATCH", "/api/v1/uploads/{upload_id}", device.patch(location, 0, photo.sealed), 204)
    check("GET", "/api/v1/batches/{batch_id}", http.get(f"/api/v1/batches/{batch.batch_id}", headers=device.auth), 200)
    check("POST", "/api/v1/batches/{batch_id}/commit", device.commit(batch.batch_id), 200)
    check("GET", "/api/v1/batches/{batch_id}/receipt", device.receipt(batch.batch_id), 200)
