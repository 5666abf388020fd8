"""Builds the Starlette application from the route table (``routes.py``), the refusal path
(``refusals.py``) and the static app. No logic here."""
from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .auth.web import AccessControl
from .errors import ApiError
from .middleware import SecurityHeaders
from .refusals import error_response, refuse
from .routes import API_ROUTES
from .services import Services
from .settings import Settings

log = logging.getLogger("clinphoto")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return await refuse(request, exc)


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
    return await refuse(request, error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never a stack trace to the user; the log names the route, never patient data or bytes.
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return error_response(ApiError("internal_error"), request)


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

    routes: list[BaseRoute] = list(API_ROUTES)  # the static app is not an API route
    if (settings.pwa_dir / "index.html").exists():
        routes.append(Mount("/", app=_StaticApp(directory=settings.pwa_dir, html=True), name="pwa"))
    else:
        routes.append(Route("/", _missing_app, methods=["GET"]))

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # access control checks the routes of this app (the API ones), after the security headers
        middleware=[Middleware(SecurityHeaders), Middleware(AccessControl, routes=API_ROUTES)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.api_routes = API_ROUTES  # what the OpenAPI document describes
    return app
