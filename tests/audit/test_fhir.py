"""Our action names map onto FHIR AuditEvent actions; entries export as AuditEvent resources."""
from __future__ import annotations

import json

import pytest

from sync_server.audit.fhir import audit_event, fhir_action


@pytest.mark.parametrize("action,code", [
    ("photo.file", "C"), ("batch.commit", "C"), ("device.enroll", "C"), ("audit.read", "R"), ("http.get", "R"),
    ("upload.patch", "U"), ("device.revoke", "U"), ("keys.rotate", "U"), ("upload.terminate", "D"),
    ("audit.prune", "D"), ("device.authenticate", "E"), ("interop.pacs.store", "C"),
])
def test_actions_map_to_fhir_create_read_update_delete_execute(action, code):
    assert fhir_action(action) == code


def test_an_entry_becomes_an_audit_event_with_outcome_agent_and_patient(officer):
    officer.append(1)
    directory = officer.export()
    event = json.loads((directory / "audit-events.ndjson").read_text().splitlines()[0])
    assert event["resourceType"] == "AuditEvent" and event["action"] == "R" and event["outcome"] == "0"
    assert event["agent"][0]["who"]["identifier"]["value"] == "user:dr-house"
    assert event["agent"][0]["network"] == {"address": "10.0.0.7", "type": "2"}
    assert {"value": "IPP-0042"} in [e["what"]["identifier"] for e in event["entity"]]
    assert audit_event({**officer.row(1)}, "x")["subtype"][0]["code"] == "photo.view"
