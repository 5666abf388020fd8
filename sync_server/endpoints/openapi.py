"""OpenAPI 3.1 of the whole API, built from the routes themselves so it cannot drift.

Each route's declaration (``routes.py``: who may call it, success status, bodies, query parameters)
gives its operation; its summary is its endpoint's docstring; request and response bodies reference the
JSON Schemas of ``schemas/`` (OpenAPI 3.1 speaks JSON Schema 2020-12 natively).
"""
from __future__ import annotations

import inspect
from typing import Any, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..auth.permissions import DEVICE, PUBLIC, SERVICE_TOKEN
from ..declare import Api, ApiRoute

from ..errors import CATALOGUE
from ..protocol.schemas import load_schema
from .common import json, services

_ERROR = {"$ref": "#/components/responses/Error"}
# FHIR routes answer errors as FHIR does (endpoints/interop.py, app.py)
_FHIR_ERROR = {"description": "A FHIR OperationOutcome; the stable error code in issue.details.coding "
                              "(system urn:clinphoto:error).",
               "content": {"application/fhir+json": {"schema": {
                   "type": "object", "required": ["resourceType", "issue"],
                   "properties": {"resourceType": {"const": "OperationOutcome"},
                                  "issue": {"type": "array", "minItems": 1}}}}}}

def _component(name: str) -> str:
    return name.replace("-", "_")


def _inline_refs(node: Any) -> Any:
    """Point cross-file refs (``sequence.schema.json``) at their component; drop ``$id``/``$schema``."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(value, str) and value.endswith(".schema.json"):
                value = "#/components/schemas/" + _component(value.rsplit("/", 1)[-1][: -len(".schema.json")])
            out[key] = _inline_refs(value)
        return out
    if isinstance(node, list):
        return [_inline_refs(v) for v in node]
    return node


# path parameters that are uuids (the endpoints refuse anything else with invalid_id or not_found)
_UUID_PARAMS = {"batch_id", "photo_id", "sequence_id", "device_id", "person_id", "media_id", "document_reference_id"}
_TUS_RESUMABLE = {"name": "Tus-Resumable", "in": "header", "required": True, "schema": {"const": "1.0.0"}}
_TUS_HEADERS: dict[str, list[dict[str, Any]]] = {
    "POST": [_TUS_RESUMABLE,
             {"name": "Upload-Length", "in": "header", "required": True,
              "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
             {"name": "Upload-Metadata", "in": "header", "required": True,
              "description": "tus metadata: comma-separated `key base64value` pairs (batch_id, photo_id).",
              "schema": {"type": "string"}}],
    "HEAD": [_TUS_RESUMABLE],
    "PATCH": [_TUS_RESUMABLE,
              {"name": "Upload-Offset", "in": "header", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
              {"name": "Upload-Checksum", "in": "header", "required": False,
               "description": "tus checksum extension: `sha256 base64digest` of this chunk.",
               "schema": {"type": "string"}}],
    "DELETE": [_TUS_RESUMABLE],
}
_HEADER = {"schema": {"type": "string"}}
_TUS_ANSWER_HEADERS: dict[str, dict[str, Any]] = {
    "OPTIONS": {"Tus-Version": _HEADER, "Tus-Extension": _HEADER, "Tus-Max-Size": _HEADER},
    "POST": {"Location": {"required": True, **_HEADER}, "Tus-Resumable": {"required": True, **_HEADER}},
    "HEAD": {"Upload-Offset": {"required": True, **_HEADER}, "Upload-Length": {"required": True, **_HEADER},
             "Tus-Resumable": {"required": True, **_HEADER}},
    "PATCH": {"Upload-Offset": {"required": True, **_HEADER}, "Tus-Resumable": {"required": True, **_HEADER}},
    "DELETE": {"Tus-Resumable": {"required": True, **_HEADER}},
}
_ERROR_TEXT = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found",
               406: "Not acceptable", 409: "Conflict", 410: "Gone", 412: "tus version unsupported",
               413: "Too large", 415: "Unsupported media type", 422: "Invalid document", 423: "Locked",
               429: "Throttled", 460: "Checksum mismatch", 503: "Storage unavailable"}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _service_scheme(path: str) -> str:
    return "fhirToken" if path.startswith("/fhir/") else "auditToken" if path.startswith("/api/v1/audit") \
        else "interopToken"


def _security(method: str, path: str, api: Api) -> list[dict[str, list[str]]]:
    """Who may call (the route's rule), as OpenAPI security requirements."""
    rule = api.allow
    if DEVICE in rule:
        return [{"deviceCredential": []}]
    if PUBLIC in rule:  # enrol/confirm is public to the gate: the endpoint checks the pending credential itself
        return [{"deviceCredential": []}] if api.credential else [{}]
    out: list[dict[str, list[str]]] = []
    if rule - {SERVICE_TOKEN}:  # a person: the session cookie, and its CSRF token when changing state
        out.append({"session": [], "csrf": []} if method in _UNSAFE else {"session": []})
    if SERVICE_TOKEN in rule:
        out.append({_service_scheme(path): []})
    return out


def _error_statuses(method: str, path: str, secured: bool, body: bool) -> set[int]:
    statuses = {400, 404, 503}
    if secured or method in _UNSAFE:
        statuses |= {401, 403}
    if method in _UNSAFE:
        statuses |= {409, 422, 429}
    if body:
        statuses |= {413, 415}
    if path.startswith("/api/v1/uploads"):
        statuses |= {410, 412, 413, 423, 460}
    if path.startswith("/fhir/"):
        statuses |= {406}
    return statuses


def _success_content(method: str, path: str, status: str, fhir: bool) -> dict[str, Any] | None:
    """What a success answer carries, by the kind of resource."""
    if method in ("HEAD", "OPTIONS") or status == "204" or path.startswith("/api/v1/uploads"):
        return None
    if fhir:
        return {"application/fhir+json": {"schema": {"type": "object", "required": ["resourceType"]}}}
    if path.endswith(".csv"):
        return {"text/csv": {"schema": {"type": "string"}}}
    if path.endswith(".ndjson"):
        return {"application/fhir+ndjson": {"schema": {"type": "string"}}}  # FHIR AuditEvents, one a line
    if path == "/api/v1/exports":
        return {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
    if path.endswith(("/thumbnail", "/preview", "/original")):
        return {"image/*": {"schema": {"type": "string", "format": "binary"}}}
    return {"application/json": {"schema": {}}}


def _takes_json(endpoint: Any) -> bool:
    try:
        return "json_body(" in inspect.getsource(endpoint)
    except (OSError, TypeError):
        return False


def build_spec(version: str, routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (the API routes of the app that serves it)."""
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = {"error"}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        api = route.api
        for method in sorted(route.methods or []):
            if method == "HEAD" and "GET" in (route.methods or []):
                continue
            doc = inspect.getdoc(route.endpoint) or route.name
            security = _security(method, route.path, api)
            secured = security != [{}]
            body = api.request is not None or api.raw is not None or _takes_json(route.endpoint)
            fhir = api.fhir
            operation: dict[str, Any] = {
                "operationId": f"{method.lower()}_{route.name}",
                "summary": doc.splitlines()[0],
                "tags": [api.tag],
                "security": security,
                "responses": {api.ok: {"description": "Success"}},
            }
            if api.audit:  # what the audit trail records of a call (besides a refusal at the gate)
                operation["x-clinphoto-audit"] = list(api.audit)
            if api.also:  # e.g. a batch proposed again: 200 with the same answer, not 201
                operation["responses"][api.also] = {"description": "Success (already done: the same answer)"}
            for status in sorted(_error_statuses(method, route.path, secured, body)):
                if method == "HEAD":  # a HEAD answer has no body, errors included
                    operation["responses"][str(status)] = {"description": _ERROR_TEXT[status]}
                elif fhir:
                    operation["responses"][str(status)] = _FHIR_ERROR
                else:
                    operation["responses"][str(status)] = _ERROR
            parameters: list[dict[str, Any]] = []
            for p in route.param_convertors:  # every {name} of the path
                schema: dict[str, Any] = {"type": "string", "format": "uuid"} if p in _UUID_PARAMS else {"type": "string"}
                parameters.append({"name": p, "in": "path", "required": True, "schema": schema})
            for q in api.query:
                schema = {"type": "string", "format": "uuid"} if q in _UUID_PARAMS else {"type": "string"}
                parameters.append({"name": q, "in": "query", "required": False, "schema": schema})
            if route.path.startswith("/api/v1/uploads"):
                parameters += _TUS_HEADERS.get(method, [])
                headers = _TUS_ANSWER_HEADERS.get(method)
                if headers:
                    operation["responses"][api.ok]["headers"] = headers
            if parameters:
                operation["parameters"] = parameters
            if api.request:
                used.add(api.request)
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_component(api.request)}"}}}}
            elif api.raw:
                operation["requestBody"] = {"required": True, "content": {api.raw: {
                    "schema": {"type": "string", "format": "binary"}}}}
            elif body:
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"type": "object"}}}}
            for ok in (api.ok, api.also):
                content = _success_content(method, route.path, ok, fhir) if ok else None
                if content:
                    operation["responses"][ok]["content"] = content
            if api.response:
                used.add(api.response)
                operation["responses"][api.ok]["content"] = {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_component(api.response)}"}}}
            paths.setdefault(route.path, {})[method.lower()] = operation
    if "batch-manifest" in used:
        used.add("sequence")
    schemas = {_component(name): _inline_refs(load_schema(name)) for name in sorted(used)}
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "ClinPhoto sync server", "version": version,
                 "description": "Secure clinical photography: device enrolment, batch sync over tus 1.0, "
                                "signed receipts. Error codes: " + ", ".join(sorted(CATALOGUE)) + "."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "deviceCredential": {**bearer, "description": "Device credential from enrolment."},
                "session": {"type": "apiKey", "in": "cookie", "name": "clinphoto_session",
                            "description": "A person's session after a passkey sign-in (`__Host-clinphoto_session` "
                                           "over HTTPS); state-changing calls also need `Origin` and the CSRF token."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "The session's CSRF token (from sign-in), on state-changing calls."},
                "auditToken": {**bearer, "description": "Service token of audit tooling (CLINPHOTO_AUDIT_TOKEN)."},
                "fhirToken": {**bearer, "description": "Service token of the EMR's FHIR client (CLINPHOTO_FHIR_TOKEN)."},
                "interopToken": {**bearer, "description": "Service token of interop administration "
                                                          "(CLINPHOTO_INTEROP_ADMIN_TOKEN)."},
            },
            "responses": {"Error": {"description": "A stable error code and a message a person can act on.",
                                    "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/error"}}}}},
        },
    }


async def openapi(request: Request) -> Response:
    """OpenAPI 3.1 description of every endpoint."""
    return json(build_spec(services(request).version, request.app.state.api_routes))
