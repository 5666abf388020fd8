"""Who may call what: the grants a route's rule is made of (each route's rule is declared beside it,
in ``routes.py``), and how a signed-in person's roles meet a rule.

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
audit, never photos; surgeons capture and view. ``auth/web.py`` enforces the rule of the route a
request matched before any endpoint runs; a route is declared with its rule or not at all.
"""
from __future__ import annotations

PUBLIC = "public"
DEVICE = "device"
PERSON = "person"
BREAK_GLASS = "break_glass"
SERVICE_TOKEN = "service_token"
SURGEON, NURSE, OFFICER, ADMIN = "surgeon", "nurse", "security_officer", "administrator"
ROLES = (SURGEON, NURSE, OFFICER, ADMIN)  # every role a person can hold; the app mirrors it in pwa/src/roles.ts
CAPTURE_ROLES = (SURGEON,)  # who may be added to a phone and take photos on it (auth/capture.py); mirrored too

Rule = frozenset[str]


def allows(rule: Rule, roles: frozenset[str], break_glass: bool) -> tuple[bool, bool]:
    """(allowed, only thanks to break-glass) for a signed-in person."""
    if PERSON in rule or roles & rule:
        return True, False
    if BREAK_GLASS in rule and break_glass:
        return True, True
    return False, False
