"""Hostile JSON bodies sent to every route of the app that takes a body: a 4xx, never a 500.

The routes are enumerated from the app (``declare.operations``), not listed by hand, and each is
called as the caller its permission rule names, so that the body reaches the endpoint's parser.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any, Callable

import pytest

from sync_server.auth.permissions import ADMIN, DEVICE, NURSE, OFFICER, PERSON, SERVICE_TOKEN, SURGEON
from sync_server.declare import operations
from sync_server.routes import rule_for
from sync_server.protocol.strict_json import MAX_JSON_DEPTH, parse_json_body
from sync_server.errors import ApiError
from tests.people.conftest import ORIGIN, Person, admin, person  # noqa: F401  (fixtures)

AUDIT_TOKEN, FHIR_TOKEN, INTEROP_TOKEN = "audit-token-hostile", "fhir-token-hostile", "interop-token-hostile"
TOKENS = {"/fhir/": FHIR_TOKEN, "/api/v1/interop/": INTEROP_TOKEN, "/api/v1/audit/": AUDIT_TOKEN}
LIMIT = 4 * 1024 * 1024  # the default largest JSON body

HOSTILE: dict[str, bytes] = {
    "deep arrays": b"[" * 3000 + b"]" * 3000,
    "deep objects": b'{"a":' * 1500 + b"1" + b"}" * 1500,
    "deep mixed": b'{"code":' + b'[{"a":' * 700 + b"0" + b"}]" * 700 + b"}",
    "deep inside a string is fine but depth outside is not": b'{"s":"[[[[[[","x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    "huge integer": b'{"code": ' + b"9" * 5000 + b', "token": ' + b"9" * 5000 + b"}",
    "huge float": b'{"code": 1e999, "token": -1e999, "label": 1e999, "name": 1e999}',
    "long float": b'{"code": 0.' + b"1" * 100_000 + b"}",
    "invalid utf-8": b'{"code": "\xff\xfe\xfd", "label": "\xc3\x28"}',
    "lone surrogates": b'{"code": "\\ud800", "label": "\\udfff", "token": "\\udc00x", "name": "\\ud83d",'
                       b' "challenge_id": "\\ud800", "reason": "\\ud800 reason long enough", "patient_id": "\\ud800"}',
    "surrogate key": b'{"\\ud800": 1}',
    "NaN": b'{"code": NaN, "token": NaN}',
    "Infinity": b'{"code": Infinity, "token": -Infinity}',
    "bare NaN": b"NaN",
    "duplicate keys": b'{"code": "a", "code": "b", "token": "a", "token": "b"}',
    "over the size limit": b'{"a":"' + b"x" * (LIMIT + 1 - 8) + b'"}',
}


@pytest.fixture
def settings(settings: Any) -> Any:
    return dataclasses.replace(settings, max_json_bytes=LIMIT, audit_token=AUDIT_TOKEN, fhir_token=FHIR_TOKEN,
                               interop_admin_token=INTEROP_TOKEN)


def _caller(rule: frozenset[str], path: str, people: Callable[[str], Person], device: Any) -> dict[str, str]:
    for role in (SURGEON, ADMIN, OFFICER, NURSE):
        if role in rule or PERSON in rule:
            return people(role).headers()
    if DEVICE in rule:
        return {**device.auth, "Tus-Resumable": "1.0.0"}
    if SERVICE_TOKEN in rule:
        return {"Authorization": "Bearer " + next(t for p, t in TOKENS.items() if path.startswith(p))}
    return {"Origin": ORIGIN}


def _body_routes(app: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in operations(app.routes) if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_every_route_that_takes_a_body_answers_hostile_json_without_a_server_error(http, admin, person, device):
    people = {ADMIN: admin, **{role: person(role) for role in (SURGEON, OFFICER, NURSE)}}

    routes = _body_routes(http.app)
    assert len(routes) > 20, routes
    failures = []
    for method, path in routes:
        headers = {**_caller(rule_for(method, path) or frozenset(), path, people.__getitem__, device),
                   "Content-Type": "application/json"}
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "IPP-0042" if m.group(1) == "patient_id" else str(uuid.uuid4()), path)
        for name, body in HOSTILE.items():
            try:  # the test client re-raises what the server did not handle
                response = http.request(method, url, headers=headers, content=body)
            except Exception as error:  # noqa: BLE001
                failures.append(f"{method} {path} [{name}]: {type(error).__name__}")
                continue
            if response.status_code >= 500:
                failures.append(f"{method} {path} [{name}]: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path,caller", [
    ("/api/v1/devices/enroll", "anonymous"), ("/api/v1/auth/register/begin", "anonymous"),
    ("/api/v1/auth/signin/finish", "anonymous"), ("/api/v1/batches", "device")])
def test_hostile_bodies_get_malformed_json_on_the_routes_found_giving_500(http, device, path, caller):
    headers = {"Content-Type": "application/json", "Origin": ORIGIN, **(device.auth if caller == "device" else {})}
    answered = []
    for name, body in HOSTILE.items():
        response = http.post(path, headers=headers, content=body)
        got = (response.status_code, response.json()["error"]["code"])
        if got[0] == 429 and got[1].endswith("_throttled"):  # anonymous failures from one address are bounded
            continue
        expected = (413, "body_too_large") if name == "over the size limit" else (400, "malformed_json")
        assert got == expected, (name, response.text[:200])
        answered.append(name)
    assert len(answered) >= 5, answered


def test_the_depth_limit_admits_ordinary_documents_and_refuses_one_level_more():
    assert parse_json_body(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    assert parse_json_body(b'{"s": "' + b"[" * 500 + b'\\"{"}') == {"s": "[" * 500 + '"{'}
    with pytest.raises(ApiError) as refused:
        parse_json_body(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert refused.value.code == "malformed_json"
    assert parse_json_body('{"name": "Zoë \\ud83d\\ude00"}'.encode()) == {"name": "Zoë 😀"}  # a valid pair is fine
