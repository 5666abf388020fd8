"""How an API route is declared: its method, path and endpoint, who may call it, what it writes to the
audit trail and how the OpenAPI document describes it, side by side in one line of ``routes.py``.

The access-control middleware (``auth/web.py``) reads ``allow`` from the route a request matched; the
OpenAPI document (``endpoints/openapi.py``) reads the rest; the audit trail (``audit/log.py``) checks
each entry a request writes against ``audit`` (``undeclared_actions``), so a declaration that drifts
from its endpoint is found by the tests that exercise it.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Iterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from .auth.permissions import Rule

log = logging.getLogger("clinphoto.routes")

Endpoint = Callable[[Request], Awaitable[Response]]

# Actions any route may write besides its own: the gate's (a device credential or a session checked and
# refused) and a refusal its endpoint raised without a more precise action (``refusals.py``: http.<method>).
GATE_ACTIONS = frozenset({"device.authenticate", "session.check"})


@dataclass(frozen=True)
class Api:
    """What one route is, besides its endpoint."""

    allow: Rule  # who may call it (auth/permissions.py grants); a route without one is closed
    audit: tuple[str, ...]  # the actions its endpoint writes (none: it touches neither patients nor security)
    tag: str  # OpenAPI tag
    ok: str = "200"  # success status
    also: str | None = None  # another success status (e.g. 200 for a batch proposed again)
    credential: bool = False  # a public route whose endpoint checks a device credential itself
    request: str | None = None  # JSON Schema of the body (schemas/<name>.schema.json)
    response: str | None = None  # JSON Schema of the success body
    raw: str | None = None  # media type of a raw body (tus PATCH)
    fhir: bool = False  # errors answered as FHIR OperationOutcome
    query: tuple[str, ...] = ()  # the query parameters it reads (all optional)


class ApiRoute(Route):
    """A Starlette route that carries its declaration."""

    def __init__(self, method: str, path: str, endpoint: Endpoint, api: Api) -> None:
        # named by module and function: unique, so OpenAPI operation ids are too (admin and devices both enrol)
        name = f"{endpoint.__module__.rsplit('.', 1)[-1]}_{endpoint.__name__}"
        super().__init__(path, endpoint, methods=[method], name=name)
        self.api = api


def operations(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, BaseRoute]]:
    """Every (method, full path, route) the routes answer; a mounted app counts as ``*`` on its prefix."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ["GET"]):
                yield method, prefix + route.path, route
        elif isinstance(route, Mount):
            if route.routes:
                yield from operations(route.routes, prefix + route.path)
            else:
                yield "*", prefix + route.path + "/{path:path}", route
        else:
            yield "*", prefix + getattr(route, "path", "?"), route


def declared(routes: Iterable[BaseRoute], method: str, path: str) -> Api | None:
    """The declaration of the route serving (method, route template); HEAD is served by GET's."""
    for m, p, route in operations(routes):
        if p == path and isinstance(route, ApiRoute) and m == method:
            return route.api
    return None


# -- the audit actions a request writes, against its route's declaration ------------------------------

_Serving = tuple[str, str, Api, "asyncio.Task[object] | None"]
_serving: ContextVar[_Serving | None] = ContextVar("clinphoto_route", default=None)
# (method, route template, action) written by a request and not declared by its route: kept for the tests
# (tests/conftest.py fails the test that wrote one) and logged; bounded.
undeclared_actions: deque[tuple[str, str, str]] = deque(maxlen=100)


@contextmanager
def serving(method: str, path: str, api: Api | None) -> Iterator[None]:
    """While the request in this task is served by this route (``auth/web.py``, once it matched)."""
    try:
        task: asyncio.Task[object] | None = asyncio.current_task()
    except RuntimeError:
        task = None
    token = _serving.set((method, path, api, task) if api is not None else None)
    try:
        yield
    finally:
        _serving.reset(token)


def check_action(action: str) -> None:
    """An audit entry is being written: is its action one the serving route declares? Work the request
    started in other tasks (decoding, the outbox) is not the route's own and is not checked."""
    current = _serving.get()
    if current is None:
        return
    method, path, api, task = current
    try:
        here = asyncio.current_task()
    except RuntimeError:
        here = None
    if here is not task:
        return
    if action in api.audit or action in GATE_ACTIONS or action == f"http.{method.lower()}":
        return
    undeclared_actions.append((method, path, action))
    log.error("audit action %s written by %s %s is not declared in routes.py", action, method, path)
