"""THE route table: every API route in one line, side by side: method, path, endpoint, who may call it
(``auth/permissions.py`` grants), the audit actions its endpoint writes, and how the OpenAPI document
describes it (``declare.Api``). ``app.py`` builds the application from it; the access-control middleware
and the OpenAPI document read the routes of the application they serve, so nothing imports the
application back. A route without a rule cannot be written here: every one has ``allow``.

Audit actions are the route's own: besides them any route may write its gate's (``device.authenticate``,
``session.check``) and a generic refusal (``http.<method>``). ``()`` means the route touches neither
patient data nor security (``tests/audit/test_route_coverage.py`` holds every other route to an entry).
"""
from __future__ import annotations

from starlette.routing import BaseRoute

from .auth.permissions import (ADMIN, BREAK_GLASS, DEVICE, NURSE, OFFICER, PERSON, PUBLIC, SERVICE_TOKEN, SURGEON,
                               Rule)
from .declare import Api, ApiRoute, Endpoint, declared
from .endpoints import (admin, audit, batches, clinical, devices, health, interop, keys, openapi, people, photos,
                        priors, station, today, uploads, ward)

FHIR_SEARCH = ("_id", "identifier", "_count", "_cursor", "_format", "_total", "_summary", "_elements", "_sort")
AUDIT_FILTERS = ("person", "patient", "device", "action", "outcome", "since", "until")


def _r(*grants: str) -> Rule:
    return frozenset(grants)


def _(method: str, path: str, endpoint: Endpoint, allow: Rule, audit: tuple[str, ...], *, tag: str, ok: str = "200",
      also: str | None = None, credential: bool = False, request: str | None = None, response: str | None = None,
      raw: str | None = None, fhir: bool = False, query: tuple[str, ...] = ()) -> ApiRoute:
    return ApiRoute(method, path, endpoint, Api(allow, audit, tag, ok, also, credential, request, response, raw, fhir,
                                                query))


API_ROUTES: list[BaseRoute] = [
    # service
    _("GET", "/healthz", health.healthz, _r(PUBLIC), (), tag="service"),
    _("GET", "/openapi.json", openapi.openapi, _r(PUBLIC), (), tag="service"),
    _("GET", "/api/v1/keys", keys.public_keys, _r(PUBLIC), (), tag="keys"),
    # devices and sync: the device credential (enrolment is public; its confirmation checks the pending credential)
    _("POST", "/api/v1/devices/enroll", devices.enroll_device, _r(PUBLIC),
        ("device.enroll",), tag="devices", ok="201", request="enrollment"),
    _("POST", "/api/v1/devices/enroll/confirm", devices.confirm_enrollment, _r(PUBLIC),
        ("device.enroll.confirm",), tag="devices", credential=True),
    _("GET", "/api/v1/devices/me", devices.whoami, _r(DEVICE), ("device.read",), tag="devices"),
    _("POST", "/api/v1/devices/me/people/begin", devices.people_begin, _r(DEVICE),
        ("device.person.add.begin",), tag="devices"),
    _("POST", "/api/v1/devices/me/people", devices.people_add, _r(DEVICE),
        ("device.person.add",), tag="devices", ok="201"),
    _("GET", "/api/v1/devices/me/people", devices.people_list, _r(DEVICE), ("device.person.list",), tag="devices"),
    _("DELETE", "/api/v1/devices/me/people/{person_id}", devices.people_remove, _r(DEVICE),
        ("device.person.remove",), tag="devices", ok="204"),
    _("PUT", "/api/v1/devices/me/status", station.report_status, _r(DEVICE),
        ("device.status.first", "device.status", "device.sync.start", "device.sync.finish", "device.sync.error"),
        tag="devices"),
    _("GET", "/api/v1/devices/me/priors", priors.device_priors, _r(DEVICE), ("prior.read",), tag="devices"),
    _("GET", "/api/v1/devices/me/today", today.device_today, _r(DEVICE),
        ("patient.today",), tag="devices", query=("person_id",)),
    _("POST", "/api/v1/batches", batches.propose_batch, _r(DEVICE),
        ("batch.propose", "sequence.create"), tag="sync", ok="201", also="200", request="batch-manifest"),
    _("GET", "/api/v1/batches/{batch_id}", batches.get_batch, _r(DEVICE), ("batch.read",), tag="sync"),
    _("POST", "/api/v1/batches/{batch_id}/commit", batches.commit_batch, _r(DEVICE),
        ("batch.commit", "sequence.identity.reconcile", "sequence.identity.quarantine"),
        tag="sync", response="receipt"),
    _("GET", "/api/v1/batches/{batch_id}/receipt", batches.get_receipt, _r(DEVICE),
        ("batch.receipt.read",), tag="sync", response="receipt"),
    _("OPTIONS", "/api/v1/uploads", uploads.options, _r(PUBLIC), (), tag="tus", ok="204"),
    _("POST", "/api/v1/uploads", uploads.create, _r(DEVICE), ("upload.create",), tag="tus", ok="201"),
    _("HEAD", "/api/v1/uploads/{upload_id}", uploads.head, _r(DEVICE), ("upload.head",), tag="tus"),
    _("PATCH", "/api/v1/uploads/{upload_id}", uploads.patch, _r(DEVICE),
        ("upload.patch", "photo.file", "photo.quarantine"), tag="tus", ok="204", raw="application/offset+octet-stream"),
    _("DELETE", "/api/v1/uploads/{upload_id}", uploads.delete, _r(DEVICE), ("upload.terminate",), tag="tus", ok="204"),
    # passkeys, one's own account, administration
    _("POST", "/api/v1/auth/signin/begin", people.signin_begin, _r(PUBLIC),
        ("person.signin.begin", "person.signin"), tag="people"),
    _("POST", "/api/v1/auth/signin/finish", people.signin_finish, _r(PUBLIC),
        ("person.signin", "session.open"), tag="people"),
    _("POST", "/api/v1/auth/register/begin", people.register_begin, _r(PUBLIC),
        ("passkey.register.begin", "passkey.register"), tag="people"),
    _("POST", "/api/v1/auth/register/finish", people.register_finish, _r(PUBLIC),
        ("passkey.register", "session.open"), tag="people", ok="201"),
    _("POST", "/api/v1/auth/signout", people.signout, _r(PERSON), ("session.close",), tag="people", ok="204"),
    _("GET", "/api/v1/me", people.me, _r(PERSON), ("person.read",), tag="people"),
    _("POST", "/api/v1/me/passkeys/begin", people.passkey_begin, _r(PERSON), ("passkey.register.begin",), tag="people"),
    _("POST", "/api/v1/me/passkeys/finish", people.passkey_finish, _r(PERSON),
        ("passkey.register",), tag="people", ok="201"),
    _("DELETE", "/api/v1/me/passkeys/{credential_id}", people.passkey_remove, _r(PERSON),
        ("passkey.remove",), tag="people", ok="204"),
    _("POST", "/api/v1/me/break-glass", people.break_glass, _r(SURGEON, OFFICER, ADMIN),
        ("break_glass.open",), tag="people", ok="201"),
    _("GET", "/api/v1/admin/people", admin.list_people, _r(ADMIN), ("person.list",), tag="admin"),
    _("POST", "/api/v1/admin/people", admin.invite_person, _r(ADMIN),
        ("person.create", "person.invite"), tag="admin", ok="201"),
    _("POST", "/api/v1/admin/people/{person_id}/invitation", admin.reinvite_person, _r(ADMIN),
        ("person.invite",), tag="admin", ok="201"),
    _("POST", "/api/v1/admin/people/{person_id}/revoke", admin.revoke_person, _r(ADMIN),
        ("person.revoke",), tag="admin", ok="204"),
    _("GET", "/api/v1/admin/devices", admin.list_devices, _r(ADMIN), ("device.list",), tag="admin"),
    _("POST", "/api/v1/admin/devices", admin.enroll_device, _r(ADMIN),
        ("device.enrollment_code.create",), tag="admin", ok="201"),
    _("POST", "/api/v1/admin/devices/{device_id}/revoke", admin.revoke_device, _r(ADMIN),
        ("device.revoke",), tag="admin", ok="204"),
    _("GET", "/api/v1/admin/ward", ward.ward, _r(ADMIN), ("ward.address",), tag="admin"),
    # docking station: nurses move data, never read it
    _("GET", "/api/v1/station/devices", admin.station_devices, _r(NURSE, ADMIN), ("station.list",), tag="station"),
    _("POST", "/api/v1/station/devices/{device_id}/sync", station.request_sync, _r(NURSE, ADMIN),
        ("station.sync_request",), tag="station"),
    # interop (FHIR read API: clinicians by session, the EMR by its token; metadata public; outbox and quarantine)
    _("GET", "/fhir/r4/metadata", interop.metadata, _r(PUBLIC), (), tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/fhir/r4/Media", interop.media_search, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.search",), tag="fhir", fhir=True, query=("subject", "patient", "created", *FHIR_SEARCH)),
    _("GET", "/fhir/r4/Media/{media_id}", interop.media_read, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.read",), tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/fhir/r4/Patient", interop.patient_search, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.search",), tag="fhir", fhir=True, query=FHIR_SEARCH),
    _("GET", "/fhir/r4/Patient/{patient_id}", interop.patient_read, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.read",), tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/fhir/r5/metadata", interop.metadata_r5, _r(PUBLIC), (), tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/fhir/r5/DocumentReference", interop.document_reference_search, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.search",), tag="fhir", fhir=True, query=("subject", "patient", "date", *FHIR_SEARCH)),
    _("GET", "/fhir/r5/DocumentReference/{document_reference_id}", interop.document_reference_read,
        _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.read",),
        tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/fhir/r5/Patient", interop.patient_search_r5, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.search",), tag="fhir", fhir=True, query=FHIR_SEARCH),
    _("GET", "/fhir/r5/Patient/{patient_id}", interop.patient_read_r5, _r(SURGEON, BREAK_GLASS, SERVICE_TOKEN),
        ("fhir.read",), tag="fhir", fhir=True, query=("_format",)),
    _("GET", "/api/v1/interop/outbox", interop.outbox_status, _r(ADMIN, SERVICE_TOKEN),
        ("interop.outbox.list",), tag="interop"),
    _("GET", "/api/v1/interop/quarantine", interop.quarantine_list, _r(SURGEON, ADMIN, SERVICE_TOKEN),
        ("interop.quarantine.list",), tag="interop"),
    _("POST", "/api/v1/interop/quarantine/{sequence_id}", interop.quarantine_decide, _r(SURGEON, ADMIN, SERVICE_TOKEN),
        ("sequence.identity.reconcile", "sequence.identity.reject"), tag="interop"),
    # audit trail: security officers by session, or the audit service token
    _("GET", "/api/v1/audit/checkpoint", audit.latest_checkpoint, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit"),
    _("GET", "/api/v1/audit/proof/inclusion", audit.inclusion_proof, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit", query=("index", "size")),
    _("GET", "/api/v1/audit/proof/consistency", audit.consistency_proof, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit", query=("from", "to")),
    _("GET", "/api/v1/audit/entries", audit.entries, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit", query=(*AUDIT_FILTERS, "order", "after", "before", "limit")),
    _("GET", "/api/v1/audit/entries/{seq}", audit.entry, _r(OFFICER, SERVICE_TOKEN), ("audit.read",), tag="audit"),
    _("GET", "/api/v1/audit/verification", audit.verification, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit"),
    _("GET", "/api/v1/audit/export.csv", audit.export_csv, _r(OFFICER, SERVICE_TOKEN),
        ("audit.export",), tag="audit", query=AUDIT_FILTERS),
    _("GET", "/api/v1/audit/export.ndjson", audit.export_ndjson, _r(OFFICER, SERVICE_TOKEN),
        ("audit.export",), tag="audit", query=AUDIT_FILTERS),
    _("GET", "/api/v1/audit/alerts", audit.alerts, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit", query=("status",)),
    _("POST", "/api/v1/audit/alerts/{alert_id}/acknowledge", audit.acknowledge, _r(OFFICER, SERVICE_TOKEN),
        ("audit.alert.acknowledge",), tag="audit"),
    _("GET", "/api/v1/audit/restricted-patients", audit.restricted_patients, _r(OFFICER, SERVICE_TOKEN),
        ("audit.read",), tag="audit"),
    _("PUT", "/api/v1/audit/restricted-patients", audit.set_restricted, _r(OFFICER, SERVICE_TOKEN),
        ("audit.restricted_patient.update",), tag="audit"),
    # clinicians' workspace: surgeons or break-glass; originals are surgeons' own right; figures carry no patient data
    _("GET", "/api/v1/photos/{photo_id}/thumbnail", photos.thumbnail, _r(SURGEON, BREAK_GLASS),
        ("photo.read",), tag="photos"),
    _("GET", "/api/v1/patients", clinical.search_patients, _r(SURGEON, BREAK_GLASS),
        ("patient.search",), tag="clinical", query=("q", "birth_date")),
    _("GET", "/api/v1/patients/recent", clinical.recent_patients, _r(SURGEON, BREAK_GLASS),
        ("patient.recent",), tag="clinical"),
    _("GET", "/api/v1/patients/{patient_id}", clinical.get_patient, _r(SURGEON, BREAK_GLASS),
        ("patient.read",), tag="clinical"),
    _("GET", "/api/v1/patients/{patient_id}/sequences", clinical.patient_sequences, _r(SURGEON, BREAK_GLASS),
        ("patient.read",), tag="clinical"),
    _("GET", "/api/v1/photos/{photo_id}/preview", clinical.photo_preview, _r(SURGEON, BREAK_GLASS),
        ("photo.read",), tag="clinical"),
    _("GET", "/api/v1/photos/{photo_id}/original", clinical.photo_original, _r(SURGEON),
        ("photo.original",), tag="clinical"),
    _("POST", "/api/v1/sequences/{sequence_id}/consent", clinical.change_consent, _r(SURGEON, BREAK_GLASS),
        ("sequence.consent",), tag="clinical"),
    _("POST", "/api/v1/exports", clinical.create_export, _r(SURGEON, BREAK_GLASS), ("photo.export",), tag="clinical"),
    _("GET", "/api/v1/stats", clinical.get_stats, _r(SURGEON, ADMIN),
        ("stats.read",), tag="clinical", query=("from", "to")),
    _("GET", "/api/v1/stats.csv", clinical.get_stats_csv, _r(SURGEON, ADMIN),
        ("stats.read",), tag="clinical", query=("from", "to")),
]


def rule_for(method: str, path: str) -> Rule | None:
    """Who may call (method, route template) of ``API_ROUTES``; None for a path no API route serves."""
    api = declared(API_ROUTES, method, path)
    return api.allow if api else None
