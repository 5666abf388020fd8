"""Photos and patients as FHIR R4 resources, validated by ``fhir.resources`` before they leave.

``fhir.resources`` 8 models FHIR R5 by default and R4B (4.3.0) in ``fhir.resources.R4B``; R4B's
Media, Patient and Bundle are the R4 (4.0.1) resources unchanged, so they validate what an R4
client reads (``fhirVersion`` in the CapabilityStatement says 4.0.1).
"""
from __future__ import annotations

from typing import Any, Mapping

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.patient import Patient

from . import codes
from .uids import instance_uid, series_uid, study_uid

_GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown"}


def _coding(code: codes.Code) -> dict[str, Any]:
    return {"system": code.fhir_system, "code": code.value, "display": code.meaning}


def patient(row: Mapping[str, Any], system: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": row["id"],
        "identifier": [{"use": "official", "system": system, "value": row["id"]}],
        "active": not row.get("merged_into"),
    }
    if row.get("family") or row.get("given"):
        name: dict[str, Any] = {"use": "official"}
        if row.get("family"):
            name["family"] = row["family"]
        if row.get("given"):
            name["given"] = [row["given"]]
        resource["name"] = [name]
    if row.get("sex") in _GENDER:
        resource["gender"] = _GENDER[row["sex"]]
    if row.get("birth_date"):
        resource["birthDate"] = row["birth_date"]
    if row.get("merged_into"):
        resource["link"] = [{"other": {"reference": f"Patient/{row['merged_into']}"}, "type": "replaced-by"}]
    return Patient.model_validate(resource).model_dump(mode="json", exclude_none=True)


def media(photo: Mapping[str, Any], form: Mapping[str, Any], patient_id: str, *, system: str,
          wado_base: str = "") -> dict[str, Any]:
    """One photo as Media: subject, view, bodySite, operator, created, content (no bytes inline)."""
    resource: dict[str, Any] = {
        "resourceType": "Media", "id": photo["id"],
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{photo['id']}"},
                       {"system": "urn:dicom:uid", "value": f"urn:oid:{instance_uid(photo['id'])}"}],
        "status": "completed",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image",
                             "display": "Image"}]},
        "modality": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "XC",
                                 "display": "External-camera Photography"}]},
        "subject": {"reference": f"Patient/{patient_id}",
                    "identifier": {"system": system, "value": patient_id}},
        "createdDateTime": photo["captured_at"],
        "issued": photo.get("filed_at") or photo["captured_at"],
        "content": {"contentType": photo["mime"], "size": photo.get("size"),
                    "title": f"{codes.view(photo['view'])[1]} ({form.get('performed_on', '')})",
                    "creation": photo["captured_at"]},
        "width": photo.get("width"), "height": photo.get("height"), "frames": 1,
    }
    if wado_base:
        resource["content"]["url"] = (f"{wado_base.rstrip('/')}/studies/{study_uid(form['sequence_id'])}"
                                      f"/series/{series_uid(form['sequence_id'])}/instances/{instance_uid(photo['id'])}")
    view_code, view_label = codes.view(photo["view"])
    resource["view"] = {"coding": [_coding(view_code)], "text": view_label} if view_code else {"text": view_label}
    region, side = codes.region(form.get("anatomical_region")), codes.laterality(form.get("laterality"))
    if region is not None:
        text = region.meaning if side is None or form.get("laterality") == "not_applicable" \
            else f"{region.meaning}, {form['laterality']}"
        resource["bodySite"] = {"coding": [_coding(region)], "text": text}
    if form.get("surgeon"):
        resource["operator"] = {"display": form["surgeon"]}
    resource["note"] = [{"text": f"{codes.procedure_label(form.get('procedure'))}, "
                                 f"{form.get('timing', {}).get('phase', '').replace('_', '-')}"}]
    resource = {k: v for k, v in resource.items() if v is not None}
    resource["content"] = {k: v for k, v in resource["content"].items() if v is not None}
    return Media.model_validate(resource).model_dump(mode="json", exclude_none=True)


def searchset(resources: list[dict[str, Any]], base: str, self_url: str) -> dict[str, Any]:
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def capability_statement(base: str) -> dict[str, Any]:
    def resource(kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        return {"type": kind, "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": n, "type": t} for n, t in params]}
    statement = {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-27", "kind": "instance",
        "fhirVersion": "4.0.1", "format": ["json"],
        "implementation": {"description": "ClinPhoto FHIR read API", "url": base},
        "rest": [{"mode": "server", "resource": [
            resource("Media", [("_id", "token"), ("subject", "reference"), ("patient", "reference"),
                               ("identifier", "token"), ("created", "date")]),
            resource("Patient", [("_id", "token"), ("identifier", "token")]),
        ]}],
    }
    return CapabilityStatement.model_validate(statement).model_dump(mode="json", exclude_none=True)


def transaction(media_resource: dict[str, Any], patient_id: str, system: str) -> dict[str, Any]:
    """A transaction Bundle that files one Media in an EMR: ``PUT Media/<id>`` is idempotent (exactly once),
    and the subject is a conditional reference the EMR resolves to its own Patient."""
    resource = dict(media_resource)
    resource["subject"] = {"reference": f"Patient?identifier={system}|{patient_id}",
                           "identifier": {"system": system, "value": patient_id}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": f"Media/{resource['id']}", "resource": resource,
        "request": {"method": "PUT", "url": f"Media/{resource['id']}"}}]}
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
