"""Access control for every request, in one place; app.py installs ``AccessControl`` (with the app's API
routes) after the security headers.

For each request that reaches an API route, the rule its declaration carries (``routes.py``) decides:
public routes pass; device routes need a valid bearer credential (cookies are ignored there);
people's routes need a live session cookie and, for state-changing methods, the right
``Origin`` and the session's CSRF token. A route with no rule is refused. Every refusal is
audited before it is answered, and the endpoint never runs. The caller ends up in
``request.state.principal``.
"""
from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any, Iterable

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from ..audit.log import AuditEvent
from ..errors import ApiError
from ..refusals import refuse
from ..types import Principal
from . import devices
from ..declare import Api, ApiRoute, operations, serving
from .permissions import DEVICE, PUBLIC, SERVICE_TOKEN, allows
from .runtime import runtime
from .sessions import CSRF_HEADER
from ..clock import now_iso

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("clinphoto.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RouteTable:
    """Which API route template serves a (method, path): built from the routes of the app it guards."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._table = [(m, compile_path(p)[0], p, r.api if isinstance(r, ApiRoute) else None)
                       for m, p, r in operations(routes)]

    def match(self, method: str, path: str) -> tuple[str, Api | None] | None:
        """The route template serving (method, path) and its declaration, or None when no API route serves it."""
        for route_method, regex, template, api in self._table:
            if regex.match(path) and route_method in (method, "*", "GET" if method == "HEAD" else ""):
                return template, api
        return None


ROUTE_TEMPLATE = "clinphoto.route_template"  # in the ASGI scope: the API route a request matched (access log)


class AccessControl:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.routes = RouteTable(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        matched = self.routes.match(method, path)
        scope[ROUTE_TEMPLATE] = matched[0] if matched else None
        if matched is None:  # the static app, or a 404/405 the router answers
            await self.app(scope, receive, send)
            return
        template, api = matched
        with serving(method, template, api):
            await self._guarded(scope, receive, send, method, template, api)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, method: str, template: str,
                       api: Api | None) -> None:
        services = scope["app"].state.services
        try:
            principal, state = await self._decide(services, scope, method, template, api)
        except ApiError as error:
            response = await refuse(Request(scope), error, template)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope["state"].update(state)
        if principal is not None:
            scope["state"]["principal"] = principal
        await self.app(scope, receive, send)

    async def _decide(self, services: Services, scope: Scope, method: str, template: str,
                      api: Api | None) -> tuple[Principal | None, dict[str, Any]]:
        rule = api.allow if api is not None else None
        headers = Headers(scope=scope)
        address = scope["client"][0] if scope.get("client") else None
        if rule is None:
            log.error("no permission rule for %s %s: refused", method, template)
            raise ApiError("forbidden", "This route has no permission rule; it is closed until it gets one.")
        if PUBLIC in rule:
            if method not in SAFE_METHODS and template.startswith("/api/v1/auth/"):
                self._check_origin(services, headers, required=False)  # no login CSRF
            return None, {}
        if SERVICE_TOKEN in rule and (rule == {SERVICE_TOKEN} or "authorization" in headers or "cookie" not in headers):
            return None, {}  # the endpoint checks (and refuses) its own service token; a cookie means a person
        if DEVICE in rule:
            who = await devices.authenticate(services.store, headers.get("authorization"), address, scope["path"])
            return who, {}
        people = runtime(services)
        cookie = cookie_parser(headers.get("cookie", "")).get(people.sessions.cookie_name)
        check = await people.sessions.check(services.store, cookie)
        if check.problem is not None:
            error = ApiError("session_required" if check.problem == "missing" else "session_invalid",
                             headers={"Set-Cookie": people.sessions.clear_cookie_header()} if cookie else None)
            actor = f"user:{check.session['person_id']}" if check.session else "anonymous"
            raise error.audited_as(AuditEvent(action="session.check", actor=actor, address=address, object=template,
                                              detail={"reason": check.problem}))
        session, person = check.session, check.person
        assert session is not None and person is not None
        who = Principal(kind="user", id=person["id"], roles=frozenset(person["roles"].split()))
        if method not in SAFE_METHODS:
            self._check_origin(services, headers, required=True, who=who)
            token = headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(token.encode(), session["csrf_token"].encode()):
                raise ApiError("csrf_failed").refused(who)
        now = now_iso()
        glass_open = bool(session["break_glass_until"]) and session["break_glass_until"] > now
        allowed, by_glass = allows(rule, who.roles, glass_open)
        if not allowed:
            raise ApiError("forbidden", details={"roles": sorted(who.roles)}).refused(who)
        state: dict[str, Any] = {"session": session, "person": person}
        if by_glass:
            log.warning("break-glass access by user:%s to %s", person["id"], template)
            state["break_glass"] = session["break_glass_reason"]
        return who, state

    def _check_origin(self, services: Services, headers: Headers, required: bool, who: Principal | None = None) -> None:
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            raise ApiError("csrf_failed").refused(who)
        if origin is None:
            if required:
                raise ApiError("csrf_failed").refused(who)
            return
        if origin not in runtime(services).origins:
            raise ApiError("csrf_failed").refused(who)


