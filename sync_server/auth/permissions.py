"""Who may call what: THE permission table, one rule per (method, route path).

Grants:
- ``public``: anyone (health, OpenAPI, public keys, device enrolment, passkey ceremonies).
- ``device``: an enrolled, unrevoked device with its bearer credential (sync); never a cookie.
- ``person``: any signed-in person, whatever their role.
- a role (``surgeon``, ``nurse``, ``security_officer``, ``administrator``): a signed-in person
  holding it.
- ``service_token``: a machine client (EMR, interop or audit tooling) with a service bearer token
  that the endpoint itself checks (``endpoints/interop.py``, ``endpoints/audit.py``); a request
  with a bearer token goes to the endpoint, otherwise the rule's other grants apply.
- ``break_glass``: a signed-in person inside an emergency access they opened with a written
  reason; every use is audited with that reason.

Nurses sync (through the device) and see the station, never photos; security officers read the
audit, never photos; surgeons capture and view. ``auth/web.py`` enforces this table on every
request before any endpoint runs; a route without a rule is refused (and
``tests/people/test_permissions.py`` fails), so a new route cannot be forgotten.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from starlette.routing import BaseRoute, Mount, Route

PUBLIC = "public"
DEVICE = "device"
PERSON = "person"
BREAK_GLASS = "break_glass"
SERVICE_TOKEN = "service_token"
SURGEON, NURSE, OFFICER, ADMIN = "surgeon", "nurse", "security_officer", "administrator"
ROLES = (SURGEON, NURSE, OFFICER, ADMIN)  # every role a person can hold; the app mirrors it in pwa/src/roles.ts
CAPTURE_ROLES = (SURGEON,)  # who may be added to a phone and take photos on it (auth/capture.py); mirrored too

Rule = frozenset[str]


def _r(*grants: str) -> Rule:
    return frozenset(grants)


PERMISSIONS: dict[tuple[str, str], Rule] = {
    # service
    ("GET", "/healthz"): _r(PUBLIC),
    ("GET", "/openapi.json"): _r(PUBLIC),
    ("GET", "/api/v1/keys"): _r(PUBLIC),
    # devices and sync: bearer credential only
    ("POST", "/api/v1/devices/enroll"): _r(PUBLIC),
    # the pending credential is checked by the endpoint itself: it is not a device's yet
    ("POST", "/api/v1/devices/enroll/confirm"): _r(PUBLIC),
    ("GET", "/api/v1/devices/me"): _r(DEVICE),
    # the people of a phone (auth/capture.py): the person's own passkey assertion is checked by the endpoint
    ("POST", "/api/v1/devices/me/people/begin"): _r(DEVICE),
    ("POST", "/api/v1/devices/me/people"): _r(DEVICE),
    ("GET", "/api/v1/devices/me/people"): _r(DEVICE),
    ("DELETE", "/api/v1/devices/me/people/{person_id}"): _r(DEVICE),
    ("POST", "/api/v1/batches"): _r(DEVICE),
    ("GET", "/api/v1/batches/{batch_id}"): _r(DEVICE),
    ("POST", "/api/v1/batches/{batch_id}/commit"): _r(DEVICE),
    ("GET", "/api/v1/batches/{batch_id}/receipt"): _r(DEVICE),
    ("OPTIONS", "/api/v1/uploads"): _r(PUBLIC),  # tus discovery: versions and extensions only
    ("POST", "/api/v1/uploads"): _r(DEVICE),
    ("HEAD", "/api/v1/uploads/{upload_id}"): _r(DEVICE),
    ("PATCH", "/api/v1/uploads/{upload_id}"): _r(DEVICE),
    ("DELETE", "/api/v1/uploads/{upload_id}"): _r(DEVICE),
    # passkey ceremonies
    ("POST", "/api/v1/auth/signin/begin"): _r(PUBLIC),
    ("POST", "/api/v1/auth/signin/finish"): _r(PUBLIC),
    ("POST", "/api/v1/auth/register/begin"): _r(PUBLIC),
    ("POST", "/api/v1/auth/register/finish"): _r(PUBLIC),
    ("POST", "/api/v1/auth/signout"): _r(PERSON),
    # one's own account
    ("GET", "/api/v1/me"): _r(PERSON),
    ("POST", "/api/v1/me/passkeys/begin"): _r(PERSON),
    ("POST", "/api/v1/me/passkeys/finish"): _r(PERSON),
    ("DELETE", "/api/v1/me/passkeys/{credential_id}"): _r(PERSON),
    ("POST", "/api/v1/me/break-glass"): _r(SURGEON, OFFICER, ADMIN),  # nurses move data, never read it
    # administration
    ("GET", "/api/v1/admin/people"): _r(ADMIN),
    ("POST", "/api/v1/admin/people"): _r(ADMIN),
    ("POST", "/api/v1/admin/people/{person_id}/invitation"): _r(ADMIN),
    ("POST", "/api/v1/admin/people/{person_id}/revoke"): _r(ADMIN),
    ("GET", "/api/v1/admin/devices"): _r(ADMIN),
    ("POST", "/api/v1/admin/devices"): _r(ADMIN),
    ("POST", "/api/v1/admin/devices/{device_id}/revoke"): _r(ADMIN),
    ("GET", "/api/v1/admin/ward"): _r(ADMIN),
    # docking station
    ("GET", "/api/v1/station/devices"): _r(NURSE, ADMIN),
    ("POST", "/api/v1/station/devices/{device_id}/sync"): _r(NURSE, ADMIN),  # sets a flag; the phone syncs itself
    ("PUT", "/api/v1/devices/me/status"): _r(DEVICE),  # counts only, never patient data
    ("GET", "/api/v1/devices/me/priors"): _r(DEVICE),  # ghost overlay: latest prior per view, audited
    ("GET", "/api/v1/devices/me/today"): _r(DEVICE),  # today's patients of the phone's department, audited
    # interop (issue 6; who and why: endpoints/interop.py). FHIR read API: clinicians (surgeons, or anyone
    # inside break-glass) by session, the EMR by its service token; metadata is public as FHIR clients read
    # it first. Interop administration: outbox to administrators; quarantine to administrators and surgeons.
    ("GET", "/fhir/r4/metadata"): _r(PUBLIC),
    ("GET", "/fhir/r4/Media"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r4/Media/{media_id}"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r4/Patient"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r4/Patient/{patient_id}"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r5/metadata"): _r(PUBLIC),
    ("GET", "/fhir/r5/DocumentReference"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r5/DocumentReference/{document_reference_id}"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r5/Patient"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/fhir/r5/Patient/{patient_id}"): _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
    ("GET", "/api/v1/interop/outbox"): _r(ADMIN, SERVICE_TOKEN),
    ("GET", "/api/v1/interop/quarantine"): _r(ADMIN, SURGEON, SERVICE_TOKEN),
    ("POST", "/api/v1/interop/quarantine/{sequence_id}"): _r(ADMIN, SURGEON, SERVICE_TOKEN),
    # audit trail (issue 5): security officers by session, or the audit service token (machine clients)
    ("GET", "/api/v1/audit/checkpoint"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/proof/inclusion"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/proof/consistency"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/entries"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/entries/{seq}"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/verification"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/export.csv"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/export.ndjson"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/alerts"): _r(OFFICER, SERVICE_TOKEN),
    ("POST", "/api/v1/audit/alerts/{alert_id}/acknowledge"): _r(OFFICER, SERVICE_TOKEN),
    ("GET", "/api/v1/audit/restricted-patients"): _r(OFFICER, SERVICE_TOKEN),
    ("PUT", "/api/v1/audit/restricted-patients"): _r(OFFICER, SERVICE_TOKEN),
    # photos: surgeons, or anyone inside a break-glass access
    ("GET", "/api/v1/photos/{photo_id}/thumbnail"): _r(SURGEON, BREAK_GLASS),
    # clinicians' workspace (issue 10, docs/clinical-api.md): surgeons or break-glass read patients and photos;
    # originals are surgeons' own right; activity figures carry no patient data (surgeons, administrators)
    ("GET", "/api/v1/patients"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/patients/recent"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/patients/{patient_id}"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/patients/{patient_id}/sequences"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/photos/{photo_id}/preview"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/photos/{photo_id}/original"): _r(SURGEON),
    ("POST", "/api/v1/sequences/{sequence_id}/consent"): _r(SURGEON, BREAK_GLASS),
    ("POST", "/api/v1/exports"): _r(SURGEON, BREAK_GLASS),
    ("GET", "/api/v1/stats"): _r(SURGEON, ADMIN),
    ("GET", "/api/v1/stats.csv"): _r(SURGEON, ADMIN),
}


def rule_for(method: str, path: str) -> Rule | None:
    rule = PERMISSIONS.get((method, path))
    if rule is None and method == "HEAD":
        rule = PERMISSIONS.get(("GET", path))
    return rule


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


def allows(rule: Rule, roles: frozenset[str], break_glass: bool) -> tuple[bool, bool]:
    """(allowed, only thanks to break-glass) for a signed-in person."""
    if PERSON in rule or roles & rule:
        return True, False
    if BREAK_GLASS in rule and break_glass:
        return True, True
    return False, False
