"""OpenAPI 3.1 of the whole API, built from the routes themselves so it cannot drift.

Each route's summary is its endpoint's docstring; request and response bodies reference the
JSON Schemas of ``schemas/`` (OpenAPI 3.1 speaks JSON Schema 2020-12 natively).
"""
from __future__ import annotations

import inspect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
_DEVICE = [{"deviceCredential": []}]

# per (method, path): request schema, success status and schema, whether a device credential is needed
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/healthz"): {"ok": "200", "auth": False, "tag": "service"},
    ("GET", "/openapi.json"): {"ok": "200", "auth": False, "tag": "service"},
    ("GET", "/api/v1/keys"): {"ok": "200", "auth": False, "tag": "keys"},
    ("POST", "/api/v1/devices/enroll"): {"ok": "201", "auth": False, "tag": "devices", "request": "enrollment"},
    ("POST", "/api/v1/devices/enroll/confirm"): {"ok": "200", "auth": True, "tag": "devices"},
    ("GET", "/api/v1/devices/me"): {"ok": "200", "auth": True, "tag": "devices"},
    ("GET", "/api/v1/devices/me/priors"): {"ok": "200", "auth": True, "tag": "devices"},
    ("POST", "/api/v1/batches"): {"ok": "201", "auth": True, "tag": "sync", "request": "batch-manifest"},
    ("GET", "/api/v1/batches/{batch_id}"): {"ok": "200", "auth": True, "tag": "sync"},
    ("POST", "/api/v1/batches/{batch_id}/commit"): {"ok": "200", "auth": True, "tag": "sync", "response": "receipt"},
    ("GET", "/api/v1/batches/{batch_id}/receipt"): {"ok": "200", "auth": True, "tag": "sync", "response": "receipt"},
    ("OPTIONS", "/api/v1/uploads"): {"ok": "204", "auth": False, "tag": "tus"},
    ("POST", "/api/v1/uploads"): {"ok": "201", "auth": True, "tag": "tus"},
    ("HEAD", "/api/v1/uploads/{upload_id}"): {"ok": "200", "auth": True, "tag": "tus"},
    ("PATCH", "/api/v1/uploads/{upload_id}"): {"ok": "204", "auth": True, "tag": "tus",
                                               "raw": "application/offset+octet-stream"},
    ("DELETE", "/api/v1/uploads/{upload_id}"): {"ok": "204", "auth": True, "tag": "tus"},
}


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


def build_spec(version: str) -> dict[str, Any]:
    from ..app import API_ROUTES  # the routes are the source of truth

    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = {"error"}
    for route in API_ROUTES:
        for method in sorted(route.methods or []):
            if method == "HEAD" and "GET" in (route.methods or []):
                continue
            # routes not listed take their metadata from an ``openapi`` dict on the endpoint function
            meta = OPERATIONS.get((method, route.path)) or getattr(route.endpoint, "openapi", None) or {
                "ok": "200", "auth": True, "tag": route.path.split("/")[3] if route.path.startswith("/api/v1/") else "other"}
            doc = inspect.getdoc(route.endpoint) or route.name
            operation: dict[str, Any] = {
                "operationId": f"{method.lower()}_{route.name}",
                "summary": doc.splitlines()[0],
                "tags": [meta["tag"]],
                "responses": {meta["ok"]: {"description": "Success"},
                              "4XX": _FHIR_ERROR if meta.get("errors") == "fhir" else _ERROR},
            }
            params = list(route.param_convertors)  # every {name} of the path
            if params:
                operation["parameters"] = [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
            if meta["auth"]:
                operation["security"] = _DEVICE
            if "request" in meta:
                used.add(meta["request"])
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_component(meta['request'])}"}}}}
            if "raw" in meta:
                operation["requestBody"] = {"required": True, "content": {meta["raw"]: {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}
            if "response" in meta:
                used.add(meta["response"])
                operation["responses"][meta["ok"]]["content"] = {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_component(meta['response'])}"}}}
            paths.setdefault(route.path, {})[method.lower()] = operation
    if "batch-manifest" in used:
        used.add("sequence")
    schemas = {_component(name): _inline_refs(load_schema(name)) for name in sorted(used)}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "ClinPhoto sync server", "version": version,
                 "description": "Secure clinical photography: device enrolment, batch sync over tus 1.0, "
                                "signed receipts. Error codes: " + ", ".join(sorted(CATALOGUE)) + "."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"deviceCredential": {"type": "http", "scheme": "bearer",
                                                     "description": "Device credential from enrolment."}},
            "responses": {"Error": {"description": "A stable error code and a message a person can act on.",
                                    "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/error"}}}}},
        },
    }


async def openapi(request: Request) -> Response:
    """OpenAPI 3.1 description of every endpoint."""
    return json(build_spec(services(request).version))
