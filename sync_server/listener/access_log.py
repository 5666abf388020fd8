"""One line per request: method, route template, status, duration, who (device or person id).

The route template (``/api/v1/photos/{photo_id}/preview``) is logged, never the path or query
string, so no patient identifier or search term reaches the log.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth.web import ROUTE_TEMPLATE
from ..clock import now_iso

FORMATS = ("text", "json", "off")
log = logging.getLogger("clinphoto.access")


def configure(format: str, stream: Any = None) -> None:
    """Access lines go to stdout as they are (one JSON object per line in ``json``)."""
    log.handlers.clear()
    log.propagate = False
    if format == "off":
        log.disabled = True
        return
    log.disabled = False
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:  # refused before routing (access control): the template it matched
        return scope.get(ROUTE_TEMPLATE) or "(no route)"
    if isinstance(route, Mount):
        return (path or "") + "/{path}"  # the capture app's files
    return path or "/"


def _who(scope: Scope) -> str:
    principal = (scope.get("state") or {}).get("principal")
    if principal is None:
        return "-"
    return principal.device_id and f"device:{principal.device_id}" or principal.actor


class AccessLog:
    def __init__(self, app: ASGIApp, format: str, listener: str = "https") -> None:
        self.app = app
        self.format = format
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.format == "off":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.write(scope, status or 500, (time.perf_counter() - start) * 1000)

    def write(self, scope: Scope, status: int, duration_ms: float) -> None:
        client = scope.get("client")
        fields = {"time": now_iso("milliseconds"),
                  "method": scope["method"], "route": _template(scope), "status": status,
                  "duration_ms": round(duration_ms, 1), "who": _who(scope),
                  "client": client[0] if client else "-", "scheme": scope.get("scheme", "http")}
        if self.format == "json":
            log.info(json.dumps(fields, separators=(",", ":")))
        else:
            log.info("%(time)s %(client)s %(method)s %(route)s %(status)d %(duration_ms).1fms %(who)s" % fields)
