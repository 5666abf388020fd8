"""The one way a refusal leaves the server: its audit entry, then its answer.

Every ``ApiError`` (raised by an endpoint, a service or access control) and every 404/405 of the
router ends here. Code that knows more about a refusal gives it its audit entry
(``raise ApiError(code).audited_as(AuditEvent(...))``): who, which patient, which object, why;
nothing else writes a refusal's entry. Other client errors get a generic ``http.<method>`` entry;
server errors (5xx) without an entry of their own are logged where they happen. The answer is the
error's JSON body with its stable code, or an OperationOutcome on FHIR routes, never cached. Work
with no request to answer (uploads filed at start) calls ``audit_refusal`` itself.
"""
from __future__ import annotations

import dataclasses
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .audit.log import MINOR_FAILURE, SUCCESS, AuditEvent, record
from .db import Db
from .errors import ApiError
from .interop import fhir
from .types import Principal

log = logging.getLogger("clinphoto.refusals")


def fhir_error(error: ApiError, path: str) -> dict[str, object]:
    """An error on a FHIR route, as the OperationOutcome FHIR clients read."""
    return fhir.operation_outcome(error.status, error.code, error.message,
                                  fhir.R5 if path.startswith("/fhir/r5") else fhir.R4, error.details)


def error_response(error: ApiError, request: Request) -> Response:
    headers = dict(error.headers)
    if request.url.path.startswith("/api/v1/uploads"):
        headers["Tus-Resumable"] = "1.0.0"
    if request.method == "HEAD":
        return Response(status_code=error.status, headers=headers)
    if request.url.path.startswith("/fhir/"):  # FHIR clients read errors as OperationOutcome
        return JSONResponse(fhir_error(error, request.url.path), status_code=error.status,
                            media_type="application/fhir+json", headers={"Cache-Control": "no-store", **headers})
    return JSONResponse(error.body(), status_code=error.status, headers={"Cache-Control": "no-store", **headers})


async def audit_refusal(store: Db, error: ApiError, *, action: str = "http.request", object: str | None = None,
                        who: Principal | None = None, address: str | None = None) -> None:
    """Write the refusal's audit entry, once: the entry the error was given (``ApiError.audited_as``),
    else a generic one (``action`` on ``object``) for client errors. A refusal that cannot be audited
    (the database shares a full disk) is logged and still answered: nothing was given."""
    if error.audited:
        return
    error.audited = True
    if error.event is not None:
        event = error.event
        outcome = event.outcome if event.outcome != SUCCESS else MINOR_FAILURE
        entry = dataclasses.replace(event, outcome=outcome, detail={**event.detail, "code": error.code},
                                    address=event.address or address)
    elif error.status < 500:
        who = error.actor or who
        detail: dict[str, object] = {"code": error.code}
        if who is not None and who.roles:
            detail["roles"] = sorted(who.roles)
        entry = AuditEvent(action=action, outcome=MINOR_FAILURE, actor=who.actor if who else "anonymous",
                           device_id=who.device_id if who else None, object=object, address=address, detail=detail)
    else:
        return  # a server error is logged where it happens
    try:
        await record(store, entry)
    except Exception:
        log.error("could not audit the refusal %s of %s (the database shares a failing disk?)", error.code,
                  entry.action)


async def refuse(request: Request, error: ApiError, template: str | None = None) -> Response:
    """Audit the refusal, then answer it. ``template``: the route it was refused on, when refused
    before routing (access control)."""
    route = request.scope.get("route")
    await audit_refusal(request.app.state.services.store, error, action=f"http.{request.method.lower()}",
                        object=template or (route.path if route is not None else "(no route)"),
                        who=getattr(request.state, "principal", None),
                        address=request.client.host if request.client else None)
    return error_response(error, request)
