"""Audit entries as FHIR R4 AuditEvent resources, shaped after IHE BALP (Basic Audit Log Patterns).

Our actions are dotted names (``photo.file``, ``device.revoke``, ``http.get``); FHIR wants one of
C(reate), R(ead), U(pdate), D(elete), E(xecute). :func:`fhir_action` is the one mapping, from the
action's last word. Outcomes are already FHIR's codes: 0 success, 4 minor, 8 serious, 12 major.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

CREATE, READ, UPDATE, DELETE, EXECUTE = "C", "R", "U", "D", "E"

# last word of an action -> FHIR AuditEvent.action; anything else is an execute
_VERBS: dict[str, str] = {
    "create": CREATE, "enroll": CREATE, "propose": CREATE, "file": CREATE, "commit": CREATE, "store": CREATE,
    "post": CREATE, "export": READ,
    "read": READ, "get": READ, "view": READ, "list": READ, "search": READ, "head": READ, "options": READ,
    "update": UPDATE, "patch": UPDATE, "put": UPDATE, "rotate": UPDATE, "revoke": UPDATE, "move": UPDATE,
    "merge": UPDATE, "verify": UPDATE, "quarantine": UPDATE, "acknowledge": UPDATE,
    "delete": DELETE, "terminate": DELETE, "prune": DELETE, "expire": DELETE, "purge": DELETE,
}

OUTCOMES = {"0": "success", "4": "minor failure", "8": "serious failure", "12": "major failure"}

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"


def fhir_action(action: str) -> str:
    """C, R, U, D or E for one of our actions (``audit.read`` -> R, ``device.authenticate`` -> E)."""
    return _VERBS.get(action.rsplit(".", 1)[-1].lower(), EXECUTE)


def _event_type(action: str) -> dict[str, str]:
    if action.startswith(("device.authenticate", "person.signin", "session.", "passkey.")):
        return {"system": _DCM, "code": "110114", "display": "User Authentication"}
    if action.startswith("break_glass."):
        return {"system": _DCM, "code": "110127", "display": "Emergency Override Started"}
    if action.startswith("audit."):
        return {"system": _DCM, "code": "110101", "display": "Audit Log Used"}
    if action.startswith(("keys.", "device.", "person.")):
        return {"system": _DCM, "code": "110113", "display": "Security Alert"}
    return {"system": _EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}


def audit_event(entry: Mapping[str, Any], observer: str) -> dict[str, Any]:
    """One entry as an AuditEvent resource (R4). ``observer`` names this server (the log origin).

    An entry read with the officer's joins (``audit/search.py``) also names the person (``actor_name``,
    ``role``) and the device (``device_label``).
    """
    detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else dict(entry["detail"])
    who: dict[str, Any] = {"identifier": {"value": entry["actor"]}}
    if entry.get("actor_name"):
        who["display"] = entry["actor_name"]
    agent: dict[str, Any] = {"type": {"coding": [{"system": _DCM, "code": "110153", "display": "Source Role ID"}]},
                             "who": who, "requestor": True}
    if entry.get("role"):
        agent["role"] = [{"text": role} for role in str(entry["role"]).split()]
    if entry.get("address"):
        agent["network"] = {"address": entry["address"], "type": "2"}
    agents = [agent]
    if entry.get("device_id"):
        device: dict[str, Any] = {"identifier": {"system": "urn:clinphoto:device", "value": entry["device_id"]}}
        if entry.get("device_label"):
            device["display"] = entry["device_label"]
        agents.append({"who": device, "requestor": False})
    entities: list[dict[str, Any]] = []
    if entry.get("patient_id"):
        entities.append({"what": {"identifier": {"value": entry["patient_id"]}},
                         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
                         "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}})
    if entry.get("object"):
        entities.append({"what": {"identifier": {"value": entry["object"]}},
                         "detail": [{"type": k, "valueString": json.dumps(v, sort_keys=True)}
                                    for k, v in sorted(detail.items())]})
    outcome = str(entry["outcome"])
    return {
        "resourceType": "AuditEvent",
        "id": str(entry["seq"]),
        "type": _event_type(entry["action"]),
        "subtype": [{"system": "urn:clinphoto:audit-action", "code": entry["action"]}],
        "action": fhir_action(entry["action"]),
        "recorded": entry["ts"],
        "outcome": outcome,
        "outcomeDesc": OUTCOMES.get(outcome, "unknown"),
        "agent": agents,
        "source": {"observer": {"display": observer},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": entities,
    }
