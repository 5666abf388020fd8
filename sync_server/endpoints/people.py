"""People: passkey sign-in and registration, one's own account, break-glass (issue 4).

Its routes (and the administration, station and photo routes) are declared in ``routes.py``.
Access is decided before any of these runs (``auth/web.py``, ``auth/permissions.py``).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent, append
from ..auth import people
from ..auth.runtime import runtime
from ..errors import ApiError
from .common import audit_answer, client_address, json, json_body, services
from ..clock import iso, utc_now

BREAK_GLASS_MIN_REASON = 20
log = logging.getLogger("clinphoto.auth")


def _body_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError("schema_invalid", details={"violations": [{"path": "", "message": "expected an object"}]})
    return body


async def _throttled(request: Request, action: str, person_id: str | None = None,
                     invited: bool = False) -> None:
    """Refuse (audited) while this account, or this address, has too many recent failures.

    The address limit is a flood guard, far above the per-account one (a ward shares one address);
    a ceremony carrying an open invitation (``invited``) is never refused for the address's failures.
    """
    throttle, address = runtime(services(request)).signin_throttle, client_address(request) or "?"
    if person_id is not None and await throttle.account_blocked(person_id):
        detail: dict[str, Any] = {"code": "signin_throttled", "scope": "account", "person": person_id}
    elif not invited and await throttle.address_blocked(address):
        detail = {"code": "signin_throttled", "scope": "address"}
    else:
        return
    raise ApiError("signin_throttled", headers={"Retry-After": "60"}).audited_as(
        AuditEvent(action=action, actor="anonymous", address=address, detail=detail))


async def _failed(request: Request, person_id: str | None = None) -> None:
    await runtime(services(request)).signin_throttle.fail(client_address(request) or "?", person_id)


async def _session_response(request: Request, person: dict[str, Any], status_code: int = 200) -> Response:
    s = services(request)
    sessions = runtime(s).sessions
    async with s.store.write() as db:
        cookie, csrf = await sessions.create(db, person["id"], client_address(request))
        await append(db, AuditEvent(action="session.open", actor=f"user:{person['id']}",
                                    address=client_address(request)))
    return json({"person": {"id": person["id"], "name": person["name"], "roles": person["roles"].split()},
                 "csrf_token": csrf}, status_code=status_code,
                headers={"Set-Cookie": sessions.set_cookie_header(cookie)})


async def signin_begin(request: Request) -> Response:
    """Start a passkey sign-in: WebAuthn request options (user verification required)."""
    await _throttled(request, "person.signin")
    options = await people.signin_begin(services(request).store, services(request).settings)
    await audit_answer(request, "person.signin.begin", detail={"challenge_id": options["challenge_id"]})
    return json(options)


async def signin_finish(request: Request) -> Response:
    """Finish a passkey sign-in: on success a session cookie and the session's CSRF token."""
    await _throttled(request, "person.signin")
    body = _body_dict(await json_body(request))
    s = services(request)
    await _throttled(request, "person.signin", await people.person_of_credential(s.store, body.get("credential")))
    async with s.store.write() as db:
        person, problem = await people.signin_finish(db, s.settings, body.get("challenge_id"), body.get("credential"),
                                                     client_address(request))
    if problem is not None:
        await _failed(request, problem.get("person"))
        raise ApiError(problem["code"]).audited_as(AuditEvent(action="person.signin", actor="anonymous",
                                                              address=client_address(request), detail=problem))
    assert person is not None
    return await _session_response(request, person)


async def register_begin(request: Request) -> Response:
    """Start registering a passkey from a one-time registration link."""
    body = _body_dict(await json_body(request))
    invited = await people.invited_person(services(request).store, body.get("token"))
    await _throttled(request, "passkey.register", invited, invited=invited is not None)
    try:
        options = await people.registration_begin(services(request).store, services(request).settings,
                                                  token=body.get("token") or "", address=client_address(request))
    except ApiError:
        await _failed(request)
        raise
    await audit_answer(request, "passkey.register.begin", object=f"person:{options['person']['id']}",
                       detail={"challenge_id": options["challenge_id"], "via": "invitation"})
    return json(options)


async def register_finish(request: Request) -> Response:
    """Finish registering a passkey from a link: the link is used up and the person is signed in."""
    body = _body_dict(await json_body(request))
    s = services(request)
    invited = await people.invited_challenge_person(s.store, body.get("challenge_id"))
    await _throttled(request, "passkey.register", invited, invited=invited is not None)
    try:
        person_id = await people.registration_finish(s.store, s.settings, body.get("challenge_id"),
                                                     body.get("credential"), body.get("label"), client_address(request))
    except ApiError:
        await _failed(request, invited)
        raise
    person = await s.store.fetch_one("SELECT * FROM person WHERE id = :id", {"id": person_id})
    return await _session_response(request, dict(person or {}), status_code=201)


async def signout(request: Request) -> Response:
    """End this session (the cookie is cleared and the server-side session revoked)."""
    s = services(request)
    sessions = runtime(s).sessions
    async with s.store.write() as db:
        await sessions.revoke(db, request.state.session["id_hash"])
        await append(db, AuditEvent(action="session.close", actor=request.state.principal.actor,
                                    address=client_address(request)))
    return Response(status_code=204, headers={"Set-Cookie": sessions.clear_cookie_header(), "Cache-Control": "no-store"})


async def me(request: Request) -> Response:
    """The signed-in person: roles, passkeys, session limits, CSRF token, break-glass state."""
    s = services(request)
    person, session = request.state.person, request.state.session
    await audit_answer(request, "person.read", object=f"person:{person['id']}")
    return json({
        "person": {"id": person["id"], "name": person["name"], "roles": person["roles"].split()},
        "passkeys": await people.list_passkeys(s.store, person["id"]),
        "csrf_token": session["csrf_token"],
        "session": {"created_at": session["created_at"], "expires_at": session["expires_at"],
                    "idle_seconds": s.settings.session_idle_seconds},
        "break_glass_until": session["break_glass_until"] if (session["break_glass_until"] or "") > iso(utc_now()) else None,
    })


async def passkey_begin(request: Request) -> Response:
    """Start registering one more passkey for the signed-in person."""
    s = services(request)
    options = await people.registration_begin(s.store, s.settings, person_id=request.state.principal.id)
    await audit_answer(request, "passkey.register.begin", detail={"challenge_id": options["challenge_id"],
                                                                   "via": "session"})
    return json(options)


async def passkey_finish(request: Request) -> Response:
    """Finish registering one more passkey for the signed-in person."""
    body = _body_dict(await json_body(request))
    s = services(request)
    who = request.state.principal
    await people.registration_finish(s.store, s.settings, body.get("challenge_id"), body.get("credential"),
                                     body.get("label"), client_address(request), signed_in=who.id)
    return json({"passkeys": await people.list_passkeys(s.store, who.id)}, status_code=201)


async def passkey_remove(request: Request) -> Response:
    """Remove one of one's passkeys (not the last one)."""
    who = request.state.principal
    await people.remove_passkey(services(request).store, who.id, request.path_params["credential_id"], who.actor,
                                client_address(request))
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


async def break_glass(request: Request) -> Response:
    """Open an emergency access to photos for this session, with a written reason; loudly audited."""
    body = _body_dict(await json_body(request))
    reason = body.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < BREAK_GLASS_MIN_REASON:
        raise ApiError("break_glass_reason_required")
    s = services(request)
    who = request.state.principal
    until = iso(utc_now() + timedelta(seconds=s.settings.break_glass_seconds))
    async with s.store.write() as db:
        await db.execute("UPDATE web_session SET break_glass_until = :u, break_glass_reason = :r WHERE id_hash = :h",
                         {"u": until, "r": reason.strip()[:1000], "h": request.state.session["id_hash"]})
        await append(db, AuditEvent(action="break_glass.open", actor=who.actor, address=client_address(request),
                                    detail={"reason": reason.strip()[:1000], "until": until, "alert": True,
                                            "roles": sorted(who.roles)}))
    log.warning("BREAK-GLASS opened by %s until %s", who.actor, until)
    return json({"break_glass_until": until}, status_code=201)
