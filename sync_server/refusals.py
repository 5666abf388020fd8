"""The one way a refusal leaves the server: its audit entry, then its answer.

Every ``ApiError`` (raised by an endpoint, a service or access control) and every 404/405 of the
router ends here. A refusal that a service already recorded with more context (``error.audited``)
is not recorded twice; server errors (5xx) are logged, not audited as refusals. The answer is the
error's JSON body with its stable code, or an OperationOutcome on FHIR routes, never cached.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .audit.log import MINOR_FAILURE, AuditEvent, record
from .errors import ApiError
from .interop import fhir
from .types import Principal


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


async def refuse(request: Request, error: ApiError, template: str | None = None) -> Response:
    """Audit the refusal (unless already recorded), then answer it. ``template``: the route it was
    refused on, when refused before routing (access control)."""
    if not error.audited and error.status < 500:
        who: Principal | None = getattr(error, "actor", None) or getattr(request.state, "principal", None)
        route = request.scope.get("route")
        detail: dict[str, object] = {"code": error.code}
        if who is not None and who.roles:
            detail["roles"] = sorted(who.roles)
        await record(request.app.state.services.store, AuditEvent(
            action=f"http.{request.method.lower()}", outcome=MINOR_FAILURE, actor=who.actor if who else "anonymous",
            device_id=who.device_id if who else None,
            object=template or (route.path if route is not None else "(no route)"),
            address=request.client.host if request.client else None, detail=detail))
        error.audited = True
    return error_response(error, request)
