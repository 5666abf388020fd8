"""Photos and patients as FHIR resources, validated by ``fhir.resources`` before they leave.

R4 (the default): each photo is a ``Media``. ``fhir.resources`` 8 models FHIR R5 at its top level
and R4B (4.3.0) in ``fhir.resources.R4B``; R4B's Media, Patient and Bundle are the R4 (4.0.1)
resources unchanged, so they validate what an R4 client reads (the CapabilityStatement says 4.0.1).

R5 (``CLINPHOTO_FHIR_R5``): R5 withdrew Media; a photo is a ``DocumentReference`` (modality,
bodySite, author, ``content.attachment`` with its size, width, height and frames), validated with
the top-level R5 models. The view, which R5 DocumentReference has no element for, travels in the
standard cross-version extension of R4 ``Media.view``.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.capabilitystatement import CapabilityStatement as CapabilityStatementR5
from fhir.resources.documentreference import DocumentReference
from fhir.resources.operationoutcome import OperationOutcome as OperationOutcomeR5
from fhir.resources.patient import Patient as PatientR5
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from . import codes
from .patients import real_date
from .uids import instance_uid, series_uid, study_uid

R4, R5 = "r4", "r5"
FHIR_VERSION = {R4: "4.0.1", R5: "5.0.0"}
PHOTO_TYPE = {R4: "Media", R5: "DocumentReference"}
_MODELS: dict[str, dict[str, Any]] = {
    R4: {"Bundle": Bundle, "CapabilityStatement": CapabilityStatement, "Patient": Patient, "Media": Media,
         "OperationOutcome": OperationOutcome},
    R5: {"Bundle": BundleR5, "CapabilityStatement": CapabilityStatementR5, "Patient": PatientR5,
         "DocumentReference": DocumentReference, "OperationOutcome": OperationOutcomeR5},
}
MEDIA_VIEW_EXTENSION = "http://hl7.org/fhir/4.0/StructureDefinition/extension-Media.view"
_GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DCM_XC = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "XC",
                       "display": "External-camera Photography"}]}


def _valid(version: str, resource: dict[str, Any]) -> dict[str, Any]:
    model = _MODELS[version][resource["resourceType"]]
    dumped = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return _integer64_as_string(dumped) if version == R5 else dumped


def _integer64_as_string(node: Any) -> Any:
    """R5 JSON writes integer64 (here Attachment.size) as a string; the models dump a number."""
    if isinstance(node, list):
        return [_integer64_as_string(v) for v in node]
    if isinstance(node, dict):
        out = {k: _integer64_as_string(v) for k, v in node.items()}
        attachment = out.get("attachment")
        if isinstance(attachment, dict) and isinstance(attachment.get("size"), int):
            attachment["size"] = str(attachment["size"])
        return out
    return node


def _coding(code: codes.Code) -> dict[str, Any]:
    return {"system": code.fhir_system, "code": code.value, "display": code.meaning}


def _printable(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() and not _CONTROL.search(value) else None


def patient(row: Mapping[str, Any], system: str, version: str = R4) -> dict[str, Any]:
    """The index row as a Patient. A value stored before the feed checked it (a birth date ``1980-13-02``,
    a sex outside table 0001) is left out, never a reason to fail the read or the whole search page."""
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": row["id"],
        "identifier": [{"use": "official", "system": system, "value": row["id"]}],
        "active": not row.get("merged_into") and bool(row.get("active", 1)),
    }
    family, given = _printable(row.get("family")), _printable(row.get("given"))
    if family or given:
        name: dict[str, Any] = {"use": "official"}
        if family:
            name["family"] = family
        if given:
            name["given"] = [given]
        resource["name"] = [name]
    if row.get("sex") in _GENDER:
        resource["gender"] = _GENDER[row["sex"]]
    if isinstance(row.get("birth_date"), str) and real_date(row["birth_date"]):
        resource["birthDate"] = row["birth_date"]
    if row.get("merged_into"):
        resource["link"] = [{"other": {"reference": f"Patient/{row['merged_into']}"}, "type": "replaced-by"}]
    return _valid(version, resource)


def _subject(patient_id: str, system: str) -> dict[str, Any]:
    return {"reference": f"Patient/{patient_id}", "identifier": {"system": system, "value": patient_id}}


def _identifiers(photo_id: str) -> list[dict[str, Any]]:
    return [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{photo_id}"},
            {"system": "urn:dicom:uid", "value": f"urn:oid:{instance_uid(photo_id)}"}]


def _wado_url(wado_base: str, form: Mapping[str, Any], photo_id: str) -> str | None:
    if not wado_base:
        return None
    return (f"{wado_base.rstrip('/')}/studies/{study_uid(form['sequence_id'])}"
            f"/series/{series_uid(form['sequence_id'])}/instances/{instance_uid(photo_id)}")


def _content(photo: Mapping[str, Any], form: Mapping[str, Any], wado_base: str) -> dict[str, Any]:
    """contentType, url and size that agree: with a PACS, the url is its WADO-RS rendered resource, which
    answers ``image/jpeg`` (a rendition: its size is the PACS's, so none is given); the original, bit-exact,
    is the DICOM instance (its SOP Instance UID is an identifier). Without a PACS, the type and size of the
    original and no url."""
    url = _wado_url(wado_base, form, photo["id"])
    if url is None:
        return {"contentType": photo["mime"], "size": photo.get("size")}
    return {"contentType": "image/jpeg", "url": f"{url}/rendered"}


def _view(photo: Mapping[str, Any]) -> dict[str, Any]:
    view_code, view_label = codes.view(photo["view"])
    return {"coding": [_coding(view_code)], "text": view_label} if view_code else {"text": view_label}


def _body_site(form: Mapping[str, Any]) -> dict[str, Any] | None:
    region, side = codes.region(form.get("anatomical_region")), codes.laterality(form.get("laterality"))
    if region is None:
        return None
    text = region.meaning if side is None or form.get("laterality") == "not_applicable" \
        else f"{region.meaning}, {form['laterality']}"
    return {"coding": [_coding(region)], "text": text}


def _title(photo: Mapping[str, Any], form: Mapping[str, Any]) -> str:
    return f"{codes.view(photo['view'])[1]} ({form.get('performed_on', '')})"


def _description(form: Mapping[str, Any]) -> str:
    phase = form.get("timing", {}).get("phase", "").replace("_", "-")
    return f"{codes.procedure_label(form.get('procedure'))}, {phase}"


def _drop_none(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if v is not None}


def media(photo: Mapping[str, Any], form: Mapping[str, Any], patient_id: str, *, system: str,
          wado_base: str = "") -> dict[str, Any]:
    """One photo as R4 Media: subject, view, bodySite, operator, created, content (no bytes inline)."""
    resource: dict[str, Any] = {
        "resourceType": "Media", "id": photo["id"], "identifier": _identifiers(photo["id"]),
        "status": "completed",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image",
                             "display": "Image"}]},
        "modality": _DCM_XC, "subject": _subject(patient_id, system),
        "createdDateTime": photo["captured_at"],
        "issued": photo.get("filed_at") or photo["captured_at"],
        "content": _drop_none({**_content(photo, form, wado_base), "title": _title(photo, form),
                               "creation": photo["captured_at"]}),
        "width": photo.get("width"), "height": photo.get("height"), "frames": 1,
        "view": _view(photo), "bodySite": _body_site(form),
        "operator": {"display": form["surgeon"]} if form.get("surgeon") else None,
        "note": [{"text": _description(form)}],
    }
    return _valid(R4, _drop_none(resource))


def document_reference(photo: Mapping[str, Any], form: Mapping[str, Any], patient_id: str, *, system: str,
                       wado_base: str = "") -> dict[str, Any]:
    """One photo as R5 DocumentReference: the same facts as the R4 Media, in R5's elements."""
    body_site = _body_site(form)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference", "id": photo["id"], "identifier": _identifiers(photo["id"]),
        "extension": [{"url": MEDIA_VIEW_EXTENSION, "valueCodeableConcept": _view(photo)}],
        "status": "current", "docStatus": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "72170-4", "display": "Photographic image"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image",
                                  "display": "Image"}]}],
        "modality": [_DCM_XC], "subject": _subject(patient_id, system),
        "date": photo.get("filed_at") or photo["captured_at"],
        "author": [{"display": form["surgeon"]}] if form.get("surgeon") else None,
        "bodySite": [{"concept": body_site}] if body_site else None,
        "description": _description(form),
        "content": [{"attachment": _drop_none({
            **_content(photo, form, wado_base), "title": _title(photo, form), "creation": photo["captured_at"],
            "width": photo.get("width"), "height": photo.get("height"), "frames": 1})}],
    }
    return _valid(R5, _drop_none(resource))


def photo_resource(version: str, photo: Mapping[str, Any], form: Mapping[str, Any], patient_id: str, *,
                   system: str, wado_base: str = "") -> dict[str, Any]:
    build = media if version == R4 else document_reference
    return build(photo, form, patient_id, system=system, wado_base=wado_base)


def searchset(resources: list[dict[str, Any]], base: str, links: Mapping[str, str], *, total: int,
              version: str = R4) -> dict[str, Any]:
    """A searchset Bundle: one page of matches, ``total`` matches in all, and its paging links."""
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return _valid(version, bundle)


SEARCH_PARAMS: dict[str, list[tuple[str, str]]] = {
    "Media": [("_id", "token"), ("subject", "reference"), ("patient", "reference"), ("identifier", "token"),
              ("created", "date")],
    "DocumentReference": [("_id", "token"), ("subject", "reference"), ("patient", "reference"),
                          ("identifier", "token"), ("creation", "date")],
    "Patient": [("_id", "token"), ("identifier", "token")],
}


def capability_statement(base: str, version: str = R4) -> dict[str, Any]:
    def resource(kind: str) -> dict[str, Any]:
        return {"type": kind, "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": n, "type": t} for n, t in SEARCH_PARAMS[kind]]}
    statement = {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-27", "kind": "instance",
        "fhirVersion": FHIR_VERSION[version], "format": ["application/fhir+json", "json"],
        "implementation": {"description": "ClinPhoto FHIR read API", "url": base},
        "rest": [{"mode": "server", "security": {
            "cors": False,
            "description": "Two ways in, no OAuth or SMART: the EMR sends the service bearer token "
                           "(Authorization: Bearer, CLINPHOTO_FHIR_TOKEN); a surgeon, or a person inside a "
                           "break-glass access, uses the session of the ClinPhoto app (passkey sign-in). "
                           "Every read is audited."},
            "resource": [resource(PHOTO_TYPE[version]), resource("Patient")]}],
    }
    return _valid(version, statement)


def transaction(photo: dict[str, Any], patient_id: str, system: str, version: str = R4) -> dict[str, Any]:
    """A transaction Bundle that files one photo resource in an EMR: ``PUT <type>/<id>`` is idempotent
    (exactly once, and a merge re-sends it with the new subject), and the subject is a conditional
    reference the EMR resolves to its own Patient."""
    resource = dict(photo)
    resource["subject"] = {"reference": f"Patient?identifier={system}|{patient_id}",
                           "identifier": {"system": system, "value": patient_id}}
    kind = resource["resourceType"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": f"{kind}/{resource['id']}", "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}/{resource['id']}"}}]}
    return _valid(version, bundle)


# --- search values, formats and errors (pure; endpoints/interop.py applies them) -------------------

class SearchValueError(ValueError):
    """A search parameter value this server cannot read."""


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def date_range(value: str) -> tuple[str, datetime, datetime]:
    """(prefix, low, high) of a FHIR date search value: the UTC instants [low, high) its precision
    covers. A value without offset is read in UTC, as the server records capture times."""
    prefix, text = (value[:2], value[2:]) if value[:2] in DATE_PREFIXES else ("eq", value)
    text = text.replace(" ", "+")  # an unencoded '+' of the offset arrives as a space
    match = _DATE.match(text)
    if match is None:
        raise SearchValueError("not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD, or with Thh:mm[:ss] and an offset)")
    year, month, day, hour, minute, second, offset = match.groups()
    if hour is not None and offset is None:
        raise SearchValueError("a date-time needs its time zone (Z or +hh:mm)")
    zone = timezone.utc
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), tzinfo=zone)
    except ValueError:
        raise SearchValueError("not a real date") from None
    if second is not None:
        high = low + timedelta(seconds=1)
    elif minute is not None:
        high = low + timedelta(minutes=1)
    elif day is not None:
        high = low + timedelta(days=1)
    elif month is not None:
        high = low.replace(year=low.year + (low.month == 12), month=low.month % 12 + 1)
    else:
        high = low.replace(year=low.year + 1)
    return prefix, low.astimezone(timezone.utc), high.astimezone(timezone.utc)


def token(value: str) -> tuple[str | None, str]:
    """(system or None when the value names none, code) of a token search value ``[system|]code``."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value


JSON_TYPES = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir",
                        "text/json"})


def acceptable(format_param: str | None, accept: str | None) -> bool:
    """Whether a request's ``_format`` and ``Accept`` let this JSON-only server answer."""
    if format_param is not None:
        return format_param.split(";")[0].strip().lower() in JSON_TYPES
    if not accept:
        return True
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if "q=0" in params.replace(" ", "") and not re.search(r"q=0\.\d*[1-9]", params):
            continue
        if media in JSON_TYPES or media in ("*/*", "application/*") or media.endswith("+json"):
            return True
    return False


ERROR_SYSTEM = "urn:clinphoto:error"
_ISSUE_TYPE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 410: "deleted", 413: "too-long", 415: "not-supported",
               422: "processing", 423: "lock-error", 429: "throttled", 503: "transient"}


def operation_outcome(status: int, code: str, message: str, version: str = R4,
                      details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An error as FHIR OperationOutcome; the server's stable error code in ``issue.details.coding``."""
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal", "code": _ISSUE_TYPE.get(status, "exception"),
        "details": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": message},
    }
    if details and details.get("parameter"):
        issue["diagnostics"] = f"{details['parameter']}: {details.get('problem', '')}".strip(": ")
        issue["expression"] = [str(details["parameter"])]
    return _valid(version, {"resourceType": "OperationOutcome", "issue": [issue]})
