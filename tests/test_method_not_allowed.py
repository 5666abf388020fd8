"""405 answers say which methods the resource takes (RFC 9110 §15.5.6: ``Allow`` is required)."""
from __future__ import annotations

import re
import uuid
from collections import defaultdict

from sync_server.declare import operations

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _served(app) -> dict[str, set[str]]:
    by_path: dict[str, set[str]] = defaultdict(set)
    for method, path, _ in operations(app.routes):
        if method != "*":
            by_path[path].add(method)
    return by_path


def _code(body: dict) -> str:
    """The stable error code: the API's envelope, or a FHIR OperationOutcome's coding on /fhir/."""
    if body.get("resourceType") == "OperationOutcome":
        return body["issue"][0]["details"]["coding"][0]["code"]
    return body["error"]["code"]


def test_every_405_lists_every_method_of_the_resource_in_allow(http):
    by_path = _served(http.app)
    assert len(by_path) > 30
    checked = 0
    for path, methods in by_path.items():
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(uuid.uuid4()), path)
        for method in METHODS:
            if method in methods or (path == "/" and method in ("HEAD",)):
                continue
            response = http.request(method, url)
            if response.status_code != 405:
                continue  # e.g. the static app answers any path
            allowed = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
            # a literal segment may also fill another route's parameter (passkeys/begin, passkeys/{id})
            also = {m for r in http.app.routes if getattr(r, "path_regex", None) and r.path_regex.match(url)
                    for m in r.methods or ()}
            assert allowed == methods | also, (method, path, response.headers.get("allow"))
            if method != "HEAD":
                assert _code(response.json()) == "method_not_allowed", (method, path)
            checked += 1
    assert checked > 100


def test_a_tus_resource_served_by_several_routes_lists_them_all(http):
    response = http.put(f"/api/v1/uploads/{uuid.uuid4()}")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"HEAD", "PATCH", "DELETE"}
