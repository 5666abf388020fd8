"""Audit API for security officers (issue 5). Routes are listed in ``ROUTES``; app.py mounts them.

Until officer accounts exist (issue 4), the routes open only to the bearer token in
``CLINPHOTO_AUDIT_TOKEN`` and are off when it is unset. Reading the log is itself logged: every
answered read appends an ``audit.read`` entry before the answer leaves (refusals are audited by
the app like any other). Hashes are standard base64, as in checkpoints.
"""
from __future__ import annotations

import base64
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..audit import tree
from ..audit.log import AuditEvent, record
from ..audit.merkle import ProofError
from ..audit.service import log_origin
from ..errors import ApiError
from ..types import Principal
from .common import client_address, json, services

MAX_PAGE = 1000
_META = {"ok": "200", "auth": True, "tag": "audit"}


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


async def _reader(request: Request) -> Principal:
    token = services(request).settings.audit_token
    if not token:
        raise ApiError("audit_api_disabled")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError("audit_unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="audit"'})
    who = Principal(kind="token", id="audit")
    request.state.principal = who
    return who


def _int(request: Request, name: str, default: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit() or len(text) > 18:
        raise ApiError("audit_query_invalid", details={"parameter": name})
    return int(text)


async def _log_read(request: Request, who: Principal, detail: dict[str, Any]) -> None:
    route = request.scope.get("route")
    await record(services(request).store, AuditEvent(
        action="audit.read", actor=who.actor, address=client_address(request),
        object=route.path if route is not None else request.url.path, detail=detail))


async def latest_checkpoint(request: Request) -> Response:
    """The latest signed checkpoint (C2SP signed note) and the log's verifier key."""
    who = await _reader(request)
    await _log_read(request, who, {})
    row = await tree.latest_checkpoint(services(request).store)
    if row is None:
        raise ApiError("audit_no_checkpoint")
    origin = log_origin(services(request).settings)
    return json({"origin": origin, "size": int(row["size"]), "root_hash": _b64(bytes.fromhex(row["root_hash"])),
                 "checkpoint": row["note"], "created_at": row["created_at"],
                 "verifier_key": tree.log_verifier(services(request).keys, origin).vkey()})


async def inclusion_proof(request: Request) -> Response:
    """RFC 9162 inclusion proof of entry ``index`` (0-based: seq - 1) in the tree of ``size``."""
    who = await _reader(request)
    index, size = _int(request, "index"), _int(request, "size")
    await _log_read(request, who, {"index": index, "size": size})
    try:
        leaf, proof = await tree.inclusion_proof(services(request).store, index, size)
    except ProofError as exc:
        raise ApiError("audit_proof_unavailable", str(exc)) from None
    return json({"index": index, "size": size, "leaf_hash": _b64(leaf), "proof": [_b64(h) for h in proof]})


async def consistency_proof(request: Request) -> Response:
    """RFC 9162 consistency proof from tree size ``from`` to tree size ``to``."""
    who = await _reader(request)
    old, new = _int(request, "from"), _int(request, "to")
    await _log_read(request, who, {"from": old, "to": new})
    try:
        proof = await tree.consistency_proof(services(request).store, old, new)
    except ProofError as exc:
        raise ApiError("audit_proof_unavailable", str(exc)) from None
    return json({"from": old, "to": new, "proof": [_b64(h) for h in proof]})


async def entries(request: Request) -> Response:
    """A page of audit entries after seq ``after``, with their chain and leaf hashes."""
    who = await _reader(request)
    after, limit = _int(request, "after", 0), min(_int(request, "limit", 100), MAX_PAGE)
    await _log_read(request, who, {"after": after, "limit": limit})
    rows = await services(request).store.fetch_all(
        "SELECT e.*, n.hash AS leaf_hash FROM audit_entry e LEFT JOIN audit_node n "
        "ON n.level = 0 AND n.idx = e.seq - 1 WHERE e.seq > :a ORDER BY e.seq LIMIT :n", {"a": after, "n": limit})
    return json({"entries": rows, "next": int(rows[-1]["seq"]) if len(rows) == limit else None})


for _endpoint in (latest_checkpoint, inclusion_proof, consistency_proof, entries):
    _endpoint.openapi = _META  # type: ignore[attr-defined]

ROUTES: list[Route] = [
    Route("/api/v1/audit/checkpoint", latest_checkpoint, methods=["GET"]),
    Route("/api/v1/audit/proof/inclusion", inclusion_proof, methods=["GET"]),
    Route("/api/v1/audit/proof/consistency", consistency_proof, methods=["GET"]),
    Route("/api/v1/audit/entries", entries, methods=["GET"]),
]


def _grant_token_access() -> None:
    # Until permissions.py lists these routes (officers, issue 4), the endpoint checks its own token,
    # like the interop service token. setdefault: a rule in permissions.py always wins.
    try:
        from ..auth.permissions import PERMISSIONS, SERVICE_TOKEN
    except ImportError:  # pragma: no cover - before issue 4's access control exists
        return
    for route in ROUTES:
        PERMISSIONS.setdefault(("GET", route.path), frozenset({SERVICE_TOKEN}))


_grant_token_access()
