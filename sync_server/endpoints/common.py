"""What every endpoint needs: the app's services, the caller, a bounded JSON body."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, cast

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..audit.log import AuditEvent, record
from ..auth.devices import authenticate
from ..errors import ApiError
from ..protocol.strict_json import parse_json_body
from ..types import Principal

if TYPE_CHECKING:
    from ..services import Services


def services(request: Request) -> Services:
    return cast("Services", request.app.state.services)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


class PollLedger:
    """When each polled view (actor, method, action, target) was last audited, for ``audit_answer``.

    Bounded: at most ``limit`` views are remembered, the least recently audited forgotten first (a
    forgotten view is audited again at its next poll, never skipped). One ledger per app.
    """

    def __init__(self, limit: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self._clock = limit, clock
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def due(self, key: tuple[str, ...], every: float) -> bool:
        """Whether ``key`` should be audited now (and if so, remember that it was)."""
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last < every:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


def _poll_ledger(request: Request) -> PollLedger:
    ledger = getattr(request.app.state, "poll_ledger", None)
    if ledger is None:
        ledger = request.app.state.poll_ledger = PollLedger()
    return ledger


async def audit_answer(request: Request, action: str, *, object: str | None = None, patient_id: str | None = None,
                       detail: dict[str, Any] | None = None, polled_every: float = 0) -> None:
    """Record an answered request that wrote nothing else: every route touching patient data or
    security leaves an entry (``tests/audit/test_route_coverage.py`` walks them all).

    ``polled_every``: a screen that polls the same view (the docking station) is recorded once per
    that many seconds per person, not at every refresh; the first read is always recorded.
    """
    who: Principal | None = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    actor = who.actor if who else "anonymous"
    target = object or (route.path if route is not None else request.url.path)
    if polled_every:
        if not _poll_ledger(request).due((actor, request.method, action, target), polled_every):
            return
    await record(services(request).store, AuditEvent(
        action=action, actor=actor, device_id=who.device_id if who else None, address=client_address(request),
        patient_id=patient_id, object=target, detail=detail or {}))


async def device(request: Request) -> Principal:
    known = getattr(request.state, "principal", None)
    if known is not None and known.kind == "device":  # the permission middleware already checked it
        return known
    who = await authenticate(services(request).store, request.headers.get("authorization"),
                             client_address(request), request.url.path)
    request.state.principal = who  # so that a later refusal is audited under the caller's name
    return who


async def json_body(request: Request) -> Any:
    limit = services(request).settings.max_json_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise ApiError("unsupported_media_type", "Send the document as application/json.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", details={"max_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError("body_too_large", details={"max_bytes": limit})
    return parse_json_body(bytes(body))


def json(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    base = {"Cache-Control": "no-store"}
    if headers:
        base.update(headers)
    return JSONResponse(content, status_code=status_code, headers=base)
