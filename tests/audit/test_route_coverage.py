"""Every route that touches patient data or security writes an audit entry, answered or refused.

The walk takes every (method, path) of the app (``declare.operations``), calls it as the caller its
permission rule names (a device, a person holding the role, a service token, or nobody for public
routes) and checks that an entry of that request was written. Routes with a recipe below are called
so that they answer (2xx): their success path is what is pinned down. A route without a recipe is
still called, with plausible path values, and must write an entry whether it answers or refuses;
so a route added later is walked too. Only the routes that declare no audit action (``routes.py``) touch
neither patient data nor security, and need no entry; a route answered by its recipe writes one of the
actions it declares (and, through ``tests/conftest.py``, none it does not).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import uuid
from typing import Any, Callable

import pytest

from sync_server.audit.service import runtime
from sync_server.auth.permissions import (ADMIN, BREAK_GLASS, DEVICE, NURSE, OFFICER, PERSON, PUBLIC, SERVICE_TOKEN,
                                          SURGEON)
from sync_server.declare import ApiRoute, operations
from sync_server.routes import API_ROUTES, rule_for
from tests.audit.officers import *  # noqa: F403  (fixtures)
from tests.audit.officers import TOKEN, for_officers
from tests.conftest import Batch
from tests.people.authenticator import SoftAuthenticator
from tests.people.conftest import ORIGIN, as_person, signin
from tests.support.client import SyncClient

STATIC = {("GET", "/"), ("HEAD", "/"), ("*", "/{path:path}")}  # the static app (built or not)
# (method, path) that touch neither patient data nor security: their route declares no audit action
EXEMPT = STATIC | {(m, p) for m, p, r in operations(API_ROUTES) if isinstance(r, ApiRoute) and not r.api.audit}
DECLARED = {(m, p): r.api.audit for m, p, r in operations(API_ROUTES) if isinstance(r, ApiRoute)}
FHIR_TOKEN, INTEROP_TOKEN = "fhir-token-for-tests", "interop-token-for-tests"
TOKENS = {"/fhir/": ("fhir", FHIR_TOKEN), "/api/v1/interop/": ("interop-admin", INTEROP_TOKEN),
          "/api/v1/audit/": ("audit", TOKEN)}


@pytest.fixture
def settings(settings):  # noqa: F811  (every service token set, so that every route is on)
    return for_officers(settings, fhir_token=FHIR_TOKEN, interop_admin_token=INTEROP_TOKEN)


@dataclasses.dataclass
class Call:
    """One request, ready to send; ``actor`` is who the entries it writes should name."""
    actor: str
    headers: dict[str, str]
    url: str | None = None  # default: the template with plausible values
    json: Any = None
    content: bytes | None = None


class World:
    """People, a device and sync state to call every route against; recipes add what they use up."""

    def __init__(self, http, admin, person, device, new_code, services, call) -> None:
        self.http, self.admin, self.device, self.new_code = http, admin, device, new_code
        self.services, self.call = services, call
        self.people = {ADMIN: admin, SURGEON: person(SURGEON), NURSE: person(NURSE), OFFICER: person(OFFICER)}
        self.committed = self.synced_batch(commit=True)
        self.filed = self.synced_batch(commit=False)
        self.open_upload = self.new_upload()
        call(services.decoder.wait_idle)

    # -- callers ---------------------------------------------------------------------------------

    def as_device(self, **kw: Any) -> Call:
        return Call(f"device:{self.device.device_id}", {**self.device.auth, "Tus-Resumable": "1.0.0"}, **kw)

    def as_person(self, role: str, **kw: Any) -> Call:
        who = self.people[role]
        return Call(f"user:{who.id}", who.headers(), **kw)

    def anonymous(self, **kw: Any) -> Call:
        return Call("anonymous", {"Origin": ORIGIN}, **kw)

    # -- sync state ------------------------------------------------------------------------------

    def synced_batch(self, commit: bool) -> Batch:
        batch = Batch(self.device, 1)
        assert self.device.propose(batch.manifest).status_code == 201
        photo = batch.photos[0]
        assert self.device.upload(batch.batch_id, photo.photo_id, photo.sealed).status_code == 204
        if commit:
            assert self.device.commit(batch.batch_id).status_code == 200
        return batch

    def new_upload(self) -> tuple[str, bytes]:
        """(location, sealed bytes) of a fresh, empty upload."""
        batch = Batch(self.device, 1)
        assert self.device.propose(batch.manifest).status_code == 201
        photo = batch.photos[0]
        created = self.device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed))
        assert created.status_code == 201, created.text
        return created.headers["location"], photo.sealed

    def invitation_token(self) -> str:
        invited = self.admin.post("/api/v1/admin/people", json={"name": "Dr New", "roles": [SURGEON]})
        return invited.json()["registration_url"].rsplit("/", 1)[-1]


def _signin_finish(w: World) -> Call:
    begin = w.http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN}).json()
    surgeon = w.people[SURGEON]
    return Call(f"user:{surgeon.id}", {"Origin": ORIGIN}, json={
        "challenge_id": begin["challenge_id"], "credential": surgeon.authn.get(begin["options"])})


def _register_finish(w: World) -> Call:
    begin = w.http.post("/api/v1/auth/register/begin", json={"token": w.invitation_token()},
                        headers={"Origin": ORIGIN}).json()
    authn = SoftAuthenticator()
    return Call("anonymous", {"Origin": ORIGIN}, json={
        "challenge_id": begin["challenge_id"], "credential": authn.create(begin["options"]), "label": "second"})


def _signout(w: World) -> Call:
    signed_in = signin(w.http, w.people[NURSE].authn)
    signed_in.authn = w.people[NURSE].authn
    session = as_person(w.http, signed_in)
    return Call(f"user:{session.id}", session.headers())


def _passkey_finish(w: World) -> tuple[Call, str]:
    who = w.people[SURGEON]
    begin = who.post("/api/v1/me/passkeys/begin").json()
    authn = SoftAuthenticator()
    return Call(f"user:{who.id}", who.headers(), json={
        "challenge_id": begin["challenge_id"], "credential": authn.create(begin["options"]), "label": "spare"}), authn.id


def _passkey_remove(w: World) -> Call:
    call, credential_id = _passkey_finish(w)
    assert w.http.post("/api/v1/me/passkeys/finish", headers=call.headers, json=call.json).status_code == 201
    return dataclasses.replace(call, url=f"/api/v1/me/passkeys/{credential_id}", json=None)


def _patch(w: World) -> Call:
    """A first chunk, short of the whole (the last chunk's filing is audited as photo.file everywhere)."""
    location, sealed = w.new_upload()
    chunk = sealed[:len(sealed) // 2]
    call = w.as_device(url=location, content=chunk)
    call.headers.update({"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
                         "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()})
    return call


def _create_upload(w: World) -> Call:
    batch = Batch(w.device, 1)
    assert w.device.propose(batch.manifest).status_code == 201
    photo = batch.photos[0]
    metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                        (("batch_id", batch.batch_id), ("photo_id", photo.photo_id)))
    call = w.as_device(url="/api/v1/uploads")
    call.headers.update({"Upload-Length": str(len(photo.sealed)), "Upload-Metadata": metadata})
    return call


def _revoke_person(w: World) -> Call:
    leaver = w.admin.post("/api/v1/admin/people", json={"name": "Leaver", "roles": [NURSE]}).json()["person_id"]
    return w.as_person(ADMIN, url=f"/api/v1/admin/people/{leaver}/revoke")


def _alert_id(w: World) -> str:
    w.people[OFFICER].get("/api/v1/audit/alerts")
    w.call(runtime(w.services).alerts.scan)
    return str(w.people[OFFICER].get("/api/v1/audit/alerts").json()["alerts"][0]["id"])


def _fresh_device_id(w: World) -> str:
    other = SyncClient(w.http)
    assert other.enroll(w.new_code("spare phone")).status_code == 201
    return other.device_id or ""


def _confirm(w: World) -> Call:
    phone = SyncClient(w.http)
    assert phone.enroll_unconfirmed(w.new_code("confirming phone")).status_code == 201
    return Call(f"device:{phone.device_id}", phone.auth)


# (method, path) -> a recipe whose call must be answered (2xx); HEAD reuses the GET recipe
RECIPES: dict[tuple[str, str], Callable[[World], Call]] = {
    ("POST", "/api/v1/devices/enroll"): lambda w: w.anonymous(json={"code": w.new_code()}),
    ("POST", "/api/v1/devices/enroll/confirm"): _confirm,
    ("GET", "/api/v1/devices/me"): lambda w: w.as_device(),
    ("POST", "/api/v1/batches"): lambda w: w.as_device(json=Batch(w.device, 1).manifest),
    ("GET", "/api/v1/batches/{batch_id}"): lambda w: w.as_device(url=f"/api/v1/batches/{w.filed.batch_id}"),
    ("POST", "/api/v1/batches/{batch_id}/commit"): lambda w: w.as_device(
        url=f"/api/v1/batches/{w.synced_batch(commit=False).batch_id}/commit"),
    ("GET", "/api/v1/batches/{batch_id}/receipt"): lambda w: w.as_device(
        url=f"/api/v1/batches/{w.committed.batch_id}/receipt"),
    ("POST", "/api/v1/uploads"): _create_upload,
    ("HEAD", "/api/v1/uploads/{upload_id}"): lambda w: w.as_device(url=w.open_upload[0]),
    ("PATCH", "/api/v1/uploads/{upload_id}"): _patch,
    ("DELETE", "/api/v1/uploads/{upload_id}"): lambda w: w.as_device(url=w.new_upload()[0]),
    ("POST", "/api/v1/auth/signin/begin"): lambda w: w.anonymous(json={}),
    ("POST", "/api/v1/auth/signin/finish"): _signin_finish,
    ("POST", "/api/v1/auth/register/begin"): lambda w: w.anonymous(json={"token": w.invitation_token()}),
    ("POST", "/api/v1/auth/register/finish"): _register_finish,
    ("POST", "/api/v1/auth/signout"): _signout,
    ("GET", "/api/v1/me"): lambda w: w.as_person(SURGEON),
    ("POST", "/api/v1/me/passkeys/begin"): lambda w: w.as_person(SURGEON),
    ("POST", "/api/v1/me/passkeys/finish"): lambda w: _passkey_finish(w)[0],
    ("DELETE", "/api/v1/me/passkeys/{credential_id}"): _passkey_remove,
    ("POST", "/api/v1/me/break-glass"): lambda w: w.as_person(
        SURGEON, json={"reason": "Patient transferred at night, wound check needed"}),
    ("GET", "/api/v1/admin/people"): lambda w: w.as_person(ADMIN),
    ("POST", "/api/v1/admin/people"): lambda w: w.as_person(ADMIN, json={"name": "Dr Walk", "roles": [NURSE]}),
    ("POST", "/api/v1/admin/people/{person_id}/invitation"): lambda w: w.as_person(
        ADMIN, url=f"/api/v1/admin/people/{w.people[NURSE].id}/invitation"),
    ("POST", "/api/v1/admin/people/{person_id}/revoke"): _revoke_person,
    ("GET", "/api/v1/admin/devices"): lambda w: w.as_person(ADMIN),
    ("POST", "/api/v1/admin/devices"): lambda w: w.as_person(ADMIN, json={"label": "Bloc 2 phone"}),
    ("POST", "/api/v1/admin/devices/{device_id}/revoke"): lambda w: w.as_person(
        ADMIN, url=f"/api/v1/admin/devices/{_fresh_device_id(w)}/revoke"),
    ("GET", "/api/v1/station/devices"): lambda w: w.as_person(NURSE),
    ("GET", "/api/v1/admin/ward"): lambda w: w.as_person(ADMIN),
    ("POST", "/api/v1/station/devices/{device_id}/sync"): lambda w: w.as_person(
        NURSE, url=f"/api/v1/station/devices/{w.device.device_id}/sync"),
    ("PUT", "/api/v1/devices/me/status"): lambda w: w.as_device(
        json={"pending_photos": 0, "pending_sequences": 0, "sync_state": "idle"}),
    ("GET", "/api/v1/photos/{photo_id}/thumbnail"): lambda w: w.as_person(
        SURGEON, url=f"/api/v1/photos/{w.filed.photos[0].photo_id}/thumbnail"),
    # clinicians' workspace (the surgeon is inside break-glass by now: IPP-0042 may be restricted)
    ("GET", "/api/v1/patients"): lambda w: w.as_person(SURGEON, url="/api/v1/patients?q=IPP-0042"),
    ("GET", "/api/v1/patients/recent"): lambda w: w.as_person(SURGEON),
    ("GET", "/api/v1/patients/{patient_id}"): lambda w: w.as_person(SURGEON, url="/api/v1/patients/IPP-0042"),
    ("GET", "/api/v1/patients/{patient_id}/sequences"): lambda w: w.as_person(
        SURGEON, url="/api/v1/patients/IPP-0042/sequences"),
    ("GET", "/api/v1/photos/{photo_id}/preview"): lambda w: w.as_person(
        SURGEON, url=f"/api/v1/photos/{w.filed.photos[0].photo_id}/preview"),
    ("GET", "/api/v1/photos/{photo_id}/original"): lambda w: w.as_person(
        SURGEON, url=f"/api/v1/photos/{w.filed.photos[0].photo_id}/original"),
    ("POST", "/api/v1/sequences/{sequence_id}/consent"): lambda w: w.as_person(
        SURGEON, url=f"/api/v1/sequences/{w.filed.sequence_id}/consent",
        json={"level": "teaching", "reason": "Agreed at the follow-up visit"}),
    ("POST", "/api/v1/exports"): lambda w: w.as_person(
        SURGEON, json={"purpose": "care", "photo_ids": [w.filed.photos[0].photo_id]}),
    ("GET", "/api/v1/stats"): lambda w: w.as_person(ADMIN),
    ("GET", "/api/v1/stats.csv"): lambda w: w.as_person(ADMIN),
    ("GET", "/api/v1/audit/checkpoint"): lambda w: w.as_person(OFFICER),
    ("GET", "/api/v1/audit/proof/inclusion"): lambda w: w.as_person(
        OFFICER, url="/api/v1/audit/proof/inclusion?index=0&size=1"),
    ("GET", "/api/v1/audit/proof/consistency"): lambda w: w.as_person(
        OFFICER, url="/api/v1/audit/proof/consistency?from=1&to=2"),
    ("GET", "/api/v1/audit/entries"): lambda w: w.as_person(OFFICER),
    ("GET", "/api/v1/audit/entries/{seq}"): lambda w: w.as_person(OFFICER, url="/api/v1/audit/entries/1"),
    ("GET", "/api/v1/audit/verification"): lambda w: w.as_person(OFFICER),
    ("GET", "/api/v1/audit/export.csv"): lambda w: w.as_person(OFFICER),
    ("GET", "/api/v1/audit/export.ndjson"): lambda w: w.as_person(OFFICER),
    ("GET", "/api/v1/audit/alerts"): lambda w: w.as_person(OFFICER),
    ("POST", "/api/v1/audit/alerts/{alert_id}/acknowledge"): lambda w: w.as_person(
        OFFICER, url=f"/api/v1/audit/alerts/{_alert_id(w)}/acknowledge"),
    ("GET", "/api/v1/audit/restricted-patients"): lambda w: w.as_person(OFFICER),
    ("PUT", "/api/v1/audit/restricted-patients"): lambda w: w.as_person(
        OFFICER, json={"patient_id": "IPP-0042", "reason": "Staff member", "restricted": True}),
}


def _fallback(w: World, method: str, path: str, rule: frozenset[str]) -> Call:
    """A route without a recipe: the caller its rule names first, plausible path values."""
    for role in (SURGEON, ADMIN, OFFICER, NURSE):
        if role in rule or PERSON in rule or (role == SURGEON and BREAK_GLASS in rule):
            return w.as_person(role, json={} if method in ("POST", "PUT", "PATCH") else None)
    if DEVICE in rule:
        return w.as_device()
    if SERVICE_TOKEN in rule:
        name, token = next(v for k, v in TOKENS.items() if path.startswith(k))
        return Call(f"token:{name}", {"Authorization": f"Bearer {token}"})
    return w.anonymous(json={} if method in ("POST", "PUT", "PATCH") else None)


def _plausible(path: str, w: World) -> str:
    values = {"patient_id": "IPP-0042", "seq": "1"}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def _written(w: World, after: int) -> list[dict[str, Any]]:
    return w.call(w.services.store.fetch_all, "SELECT * FROM audit_entry WHERE seq > :s ORDER BY seq", {"s": after})


def _head(w: World) -> int:
    return int(w.call(w.services.store.fetch_val, "SELECT seq FROM audit_head WHERE id = 1"))


def _send(w: World, method: str, call: Call, path: str) -> Any:
    url = call.url or _plausible(path, w)
    return w.http.request(method, url, headers=call.headers, json=call.json, content=call.content)


def _mine(entries: list[dict[str, Any]], call: Call, path: str) -> list[dict[str, Any]]:
    """The entries this request wrote (not a decoder's or a checkpoint's meanwhile)."""
    return [e for e in entries if e["actor"] == call.actor or e["address"] == "testclient" or e["object"] == path]


@pytest.fixture
def world(http, admin, person, device, new_code, services, call) -> World:
    return World(http, admin, person, device, new_code, services, call)


def test_every_route_touching_patient_data_or_security_writes_an_audit_entry(world, http):
    silent, unanswered, unwritten = [], [], []
    walked = 0
    for method, path, _ in operations(http.app.routes):
        if (method, path) in EXEMPT:
            continue
        rule = rule_for(method, path) or frozenset()
        recipe = RECIPES.get((method, path)) or (RECIPES.get(("GET", path)) if method == "HEAD" else None)
        call = recipe(world) if recipe else _fallback(world, method, path, rule)
        before = _head(world)
        response = _send(world, method, call, path)
        walked += 1
        if recipe is not None and not 200 <= response.status_code < 300:
            unanswered.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        mine = _mine(_written(world, before), call, path)
        if not mine:
            silent.append(f"{method} {path} ({response.status_code})")
        elif recipe is not None and not {e["action"] for e in mine} & set(DECLARED[(method, path)]):
            unwritten.append(f"{method} {path}: wrote {sorted({e['action'] for e in mine})}")
    assert walked > 60
    assert not unanswered, "recipes that no longer get an answer: " + "; ".join(unanswered)
    assert not silent, f"routes that wrote no audit entry: {silent}"
    assert not unwritten, f"answered routes that wrote none of the actions they declare: {unwritten}"


def test_every_refusal_of_a_protected_route_is_audited(world, http):
    silent = []
    for method, path, _ in operations(http.app.routes):
        rule = rule_for(method, path)
        if (method, path) in EXEMPT or rule is None or PUBLIC in rule:
            continue
        before = _head(world)
        url = _plausible(path, world)
        response = http.request(method, url)  # no credential at all
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        refusals = [e for e in _written(world, before) if e["object"] in (path, url) and e["outcome"] == "4"]
        if not refusals:
            silent.append(f"{method} {path} ({response.status_code})")
    assert not silent, f"refusals that wrote no audit entry: {silent}"


def test_the_exempt_list_names_only_real_routes_that_touch_neither(http):
    served = {(method, path) for method, path, _ in operations(http.app.routes)}
    assert EXEMPT - STATIC <= served, f"stale exemptions: {EXEMPT - STATIC - served}"
    assert len(EXEMPT - STATIC) == 11  # health, OpenAPI, public keys, tus discovery, FHIR capability statements
    for method, path in EXEMPT - STATIC:
        assert PUBLIC in (rule_for(method, path) or ()), f"an exempt route must be public: {method} {path}"


def test_a_screen_polling_the_same_view_is_recorded_once_a_minute_not_at_every_refresh(person, audit):
    nurse = person(NURSE)
    for _ in range(3):
        assert nurse.get("/api/v1/station/devices").status_code == 200
    assert [e["actor"] for e in audit("station.list")] == [f"user:{nurse.id}"]
    other = person(NURSE)
    assert other.get("/api/v1/station/devices").status_code == 200
    assert len(audit("station.list")) == 2  # per person
