"""Builds the Starlette application: routes, error rendering, static app. No logic here."""
from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .auth.web import MIDDLEWARE as AUTH_MIDDLEWARE
from .endpoints import audit, batches, clinical, devices, health, interop, keys, people, station, uploads, ward
from .endpoints.openapi import openapi
from .endpoints import priors
from .audit.log import MINOR_FAILURE, AuditEvent, record
from .errors import ApiError
from .middleware import SecurityHeaders
from .services import Services
from .settings import Settings

log = logging.getLogger("clinphoto")

API_ROUTES: list[Route] = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1/keys", keys.public_keys, methods=["GET"]),
    Route("/api/v1/devices/enroll", devices.enroll_device, methods=["POST"]),
    Route("/api/v1/devices/enroll/confirm", devices.confirm_enrollment, methods=["POST"]),
    Route("/api/v1/devices/me", devices.whoami, methods=["GET"]),
    Route("/api/v1/devices/me/people/begin", devices.people_begin, methods=["POST"]),
    Route("/api/v1/devices/me/people", devices.people_add, methods=["POST"]),
    Route("/api/v1/devices/me/people", devices.people_list, methods=["GET"]),
    Route("/api/v1/devices/me/people/{person_id}", devices.people_remove, methods=["DELETE"]),
    Route("/api/v1/devices/me/status", station.report_status, methods=["PUT"]),
    Route("/api/v1/devices/me/priors", priors.device_priors, methods=["GET"]),
    Route("/api/v1/batches", batches.propose_batch, methods=["POST"]),
    Route("/api/v1/batches/{batch_id}", batches.get_batch, methods=["GET"]),
    Route("/api/v1/batches/{batch_id}/commit", batches.commit_batch, methods=["POST"]),
    Route("/api/v1/batches/{batch_id}/receipt", batches.get_receipt, methods=["GET"]),
    Route("/api/v1/uploads", uploads.options, methods=["OPTIONS"]),
    Route("/api/v1/uploads", uploads.create, methods=["POST"]),
    Route("/api/v1/uploads/{upload_id}", uploads.head, methods=["HEAD"]),
    Route("/api/v1/uploads/{upload_id}", uploads.patch, methods=["PATCH"]),
    Route("/api/v1/uploads/{upload_id}", uploads.delete, methods=["DELETE"]),
    *people.ROUTES,
    *audit.ROUTES,
    *interop.ROUTES,
    *ward.ROUTES,
    *clinical.ROUTES,
]

def _error_response(error: ApiError, request: Request) -> Response:
    headers = dict(error.headers)
    if request.url.path.startswith("/api/v1/uploads"):
        headers["Tus-Resumable"] = "1.0.0"
    if request.method == "HEAD":
        return Response(status_code=error.status, headers=headers)
    if request.url.path.startswith("/fhir/"):  # FHIR clients read errors as OperationOutcome
        return JSONResponse(interop.fhir_error(error, request.url.path), status_code=error.status,
                            media_type="application/fhir+json", headers={"Cache-Control": "no-store", **headers})
    return JSONResponse(error.body(), status_code=error.status, headers={"Cache-Control": "no-store", **headers})


async def _audit_refusal(request: Request, error: ApiError) -> None:
    """Every refusal is audited; those the service already recorded with more context are not repeated."""
    if error.audited or error.status >= 500:
        return
    route = request.scope.get("route")
    who = getattr(request.state, "principal", None)
    await record(request.app.state.services.store, AuditEvent(
        action=f"http.{request.method.lower()}", outcome=MINOR_FAILURE,
        actor=who.actor if who else "anonymous", device_id=who.device_id if who else None,
        object=route.path if route is not None else "(no route)", address=request.client.host if request.client else None,
        detail={"code": error.code}))
    error.audited = True


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    await _audit_refusal(request, exc)
    return _error_response(exc, request)


def _allowed_methods(request: Request) -> str:
    """Every method of every route serving this path (a tus resource has several routes); ``Allow`` on 405."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods or {"GET", "HEAD"}))  # else the static app: read-only


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "not_found")
    error = ApiError(code, headers={"Allow": _allowed_methods(request)} if code == "method_not_allowed" else None)
    await _audit_refusal(request, error)
    return _error_response(error, request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never a stack trace to the user; the log names the route, never patient data or bytes.
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return _error_response(ApiError("internal_error"), request)


class _StaticApp(StaticFiles):
    """The built capture app. The service worker must never be cached by HTTP caches."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        path = str(args[0]) if args else ""
        if path.endswith(("sw.js", "index.html", "manifest.webmanifest")):
            response.headers["Cache-Control"] = "no-cache"
        return response


def _missing_app(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>ClinPhoto</title><p>The capture app is not built: "
        "run <code>make run</code> (it builds <code>pwa/</code>) or <code>npm --prefix pwa run build</code>.</p>",
        status_code=503)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.services = await Services.start(settings)
        try:
            yield
        finally:
            await app.state.services.stop()

    routes: list[BaseRoute] = list(API_ROUTES)
    if (settings.pwa_dir / "index.html").exists():
        routes.append(Mount("/", app=_StaticApp(directory=settings.pwa_dir, html=True), name="pwa"))
    else:
        routes.append(Route("/", _missing_app, methods=["GET"]))

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders), *AUTH_MIDDLEWARE],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
    )

    return app
