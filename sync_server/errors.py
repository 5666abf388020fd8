"""Every error a client can meet: one stable code, one HTTP status, one message.

The catalogue is the single source: endpoints raise ``ApiError(code)``; the README's error
table is checked against ``CATALOGUE`` by the docs test, so codes cannot drift.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

# code: (HTTP status, message a person can act on)
CATALOGUE: dict[str, tuple[int, str]] = {
    # request shape
    "malformed_json": (400, "The request body is not valid JSON."),
    "schema_invalid": (422, "The document does not match its schema; see details.violations."),
    "body_too_large": (413, "The request body is larger than the server accepts."),
    "invalid_id": (400, "An identifier is not a lowercase canonical UUID."),
    "not_found": (404, "No such resource."),
    "method_not_allowed": (405, "This method is not allowed on this resource."),
    "unsupported_media_type": (415, "The request has the wrong Content-Type."),
    # devices
    "device_unauthenticated": (401, "No valid device credential: enrol this device again."),
    "device_revoked": (401, "This device has been revoked; its local data is being erased."),
    "enrollment_code_invalid": (400, "This enrolment code is unknown, already used or expired: ask for a new one."),
    "device_enrollment_unconfirmed": (403, "This device's enrolment is not confirmed yet: the app confirms it "
                                      "(POST /api/v1/devices/enroll/confirm) before it can sync."),
    "enrollment_throttled": (429, "Too many enrolment attempts; wait a minute and try again."),
    # people, sessions, permissions
    "session_required": (401, "Sign in with your passkey first."),
    "session_invalid": (401, "Your session is unknown, expired or was ended: sign in again."),
    "csrf_failed": (403, "This request did not come from the ClinPhoto app (origin or CSRF token missing or wrong)."),
    "forbidden": (403, "Your role does not allow this."),
    "passkey_invalid": (401, "This passkey could not be verified: try again, or use another passkey."),
    "signin_throttled": (429, "Too many failed sign-ins; wait a minute and try again."),
    "challenge_invalid": (400, "This sign-in or registration attempt is unknown or expired: start again."),
    "invitation_invalid": (400, "This registration link is unknown, already used or expired: ask an administrator for a new one."),
    "person_not_found": (404, "No such person."),
    "last_administrator": (409, "This is the last administrator who can sign in: register another administrator "
                                "before revoking this one."),
    "device_not_found": (404, "No such device."),
    "passkey_not_found": (404, "No such passkey for this person."),
    "last_passkey": (409, "This is your only passkey: register another one before removing it."),
    # the people of a phone (auth/capture.py): refusals when adding, quarantine reasons when filing
    "person_cannot_capture": (403, "This person's roles do not include taking photos (surgeon): they cannot be added to a phone, "
                                   "and a photo naming them is kept in quarantine."),
    "person_unknown": (422, "A photo names a person this server does not know: it is kept in quarantine, never shown."),
    "person_revoked": (403, "A photo names a person whose access was revoked: it is kept in quarantine, never shown, "
                            "until the hospital decides."),
    "person_not_on_device": (403, "A photo names a person who was never added to this phone (or was taken off it): "
                                  "it is kept in quarantine, never shown."),
    "break_glass_reason_required": (422, "Emergency access needs a written reason (at least 20 characters)."),
    "photo_not_found": (404, "No such photo, or it has no rendition of this kind yet."),
    "photo_quarantined": (409, "This photo failed verification and is quarantined: it is kept but never shown."),
    # batches
    "batch_conflict": (409, "This batch id was already proposed with a different manifest."),
    "photo_conflict": (409, "A photo id in this manifest is already held with different content."),
    "sequence_conflict": (409, "A sequence id in this manifest is already held with a different form."),
    "manifest_inconsistent": (422, "The manifest contradicts itself (unknown sequence, duplicate id, device mismatch)."),
    "form_seal_invalid": (422, "A sequence's sealed form does not open: it is damaged, forged or not a form seal."),
    "form_seal_wrong_sequence": (422, "A sequence's sealed form was sealed for another sequence."),
    "form_seal_unknown_key": (422, "A sequence's form was sealed to a key this server does not hold; re-enrol the device."),
    "batch_not_found": (404, "No such batch for this device: propose it first."),
    "batch_incomplete": (409, "Some photos of this batch are not filed yet; upload them, then commit again."),
    "batch_already_committed": (409, "This batch is already committed; fetch its receipt instead."),
    "receipt_not_ready": (409, "This batch is not committed yet, so it has no receipt."),
    # tus uploads
    "tus_version_unsupported": (412, "Unsupported Tus-Resumable version; this server speaks tus 1.0.0."),
    "upload_length_invalid": (400, "Upload-Length is missing or not a non-negative integer."),
    "upload_too_large": (413, "The upload is larger than the largest sealed photo the server accepts."),
    "upload_metadata_invalid": (400, "Upload-Metadata must carry batch_id and photo_id (base64)."),
    "upload_not_expected": (409, "This photo is not awaited in this batch (unknown, already filed or wrong size)."),
    "sealed_size_mismatch": (409, "Upload-Length differs from the sealed size the manifest gives for this photo."),
    "upload_offset_mismatch": (409, "Upload-Offset does not match the bytes the server holds; HEAD the upload and resume."),
    "upload_checksum_unsupported": (400, "Upload-Checksum uses an algorithm other than sha256."),
    "upload_checksum_mismatch": (460, "The chunk's sha256 does not match Upload-Checksum; the chunk was discarded, send it again."),
    "upload_overflow": (413, "The body goes past the declared Upload-Length."),
    "upload_busy": (423, "Another request is writing to this upload; retry in a moment."),
    "storage_full": (507, "Hospital storage is full: nothing of this photo was kept. Syncing resumes by itself once space is freed."),
    "storage_failing": (503, "Hospital storage failed writing this photo: nothing of it was kept. Try again; tell an administrator if it persists."),
    "upload_expired": (410, "This upload expired; create a new one."),
    "upload_gone": (410, "This upload was terminated or already finished."),
    # per-photo verification (final PATCH)
    "sealed_hash_mismatch": (422, "The sealed blob's SHA-256 differs from the manifest: the bytes changed in transit."),
    "seal_malformed": (422, "The blob is not a ClinPhoto seal (bad magic, version or header)."),
    "seal_wrong_photo": (422, "The blob was sealed for another photo or sequence."),
    "seal_unknown_key": (422, "The blob was sealed to a key this server does not hold; re-enrol the device."),
    "seal_invalid": (422, "The seal does not open: the blob is damaged or forged."),
    "plaintext_hash_mismatch": (422, "The photo's SHA-256 differs from the manifest."),
    "image_unsupported": (422, "The photo is not a JPEG or PNG image."),
    "image_too_large": (422, "The image has more pixels than the server accepts."),
    "image_decompression_bomb": (422, "The image would expand to an unreasonable size when decoded."),
    "image_location_metadata": (422, "The image carries location (GPS) metadata; the app must strip it before sealing."),
    # interop (FHIR read API, interop admin API)
    "interop_disabled": (404, "This interop API is not configured on this server (no interop setting, or its token or R5 setting is off)."),
    "interop_unauthenticated": (401, "This interop API needs its service bearer token, or a signed-in person's session."),
    "fhir_search_invalid": (400, "A FHIR search parameter is unsupported or malformed; see details."),
    "fhir_format_unsupported": (406, "This FHIR API answers JSON only (application/fhir+json): ask for JSON in Accept or _format."),
    "patient_unknown": (422, "This patient identifier is not in the hospital patient index."),
    "patient_inactive": (422, "This patient identity is inactive in the hospital index: choose the patient's active identity."),
    "not_in_quarantine": (409, "This sequence is not waiting in the patient quarantine."),
    # audit API
    "audit_api_disabled": (404, "No audit service token is set on this server (CLINPHOTO_AUDIT_TOKEN): sign in as a security officer instead."),
    "audit_unauthenticated": (401, "Send the audit token as 'Authorization: Bearer <token>', or sign in as a security officer."),
    "audit_query_invalid": (400, "A query parameter is unknown, repeated or malformed; see details.parameter."),
    "audit_entry_not_found": (404, "No such audit entry: it does not exist yet, or was pruned (retention)."),
    "audit_alert_not_found": (404, "No such audit alert."),
    "audit_proof_unavailable": (422, "No such proof: the entry or tree size is out of range, or was pruned."),
    "audit_no_checkpoint": (404, "No signed checkpoint yet; one is issued at start and at every batch commit."),
    # clinicians' workspace (docs/clinical-api.md)
    "clinical_query_invalid": (400, "A query parameter is missing, unknown or malformed; see details.parameter."),
    "patient_id_invalid": (400, "A patient identifier is 3 to 32 letters, digits or hyphens."),
    "patient_not_found": (404, "No such patient in the index or in the filed sequences."),
    "patient_restricted": (403, "This patient is restricted: open an emergency (break-glass) access with a reason to see them."),
    "sequence_not_found": (404, "No such sequence."),
    "reason_required": (422, "A consent change needs a consent level and a written reason (at least 5 characters)."),
    "export_invalid": (422, "An export needs a purpose (care, teaching or publication) and 1 to 200 distinct photo ids."),
    "consent_insufficient": (403, "Some photos may not be exported for this purpose (consent level, face, quarantine); see details.photos."),
    "original_surgeons_only": (403, "Original files and care exports are for surgeons only."),
    # server side
    "storage_unavailable": (503, "Hospital storage is not available right now; nothing was lost, retry later."),
    "internal_error": (500, "Unexpected server error; nothing was stored for this request. The incident is logged."),
}


if TYPE_CHECKING:  # only for the annotations: errors.py imports nothing of the server
    from .audit.log import AuditEvent
    from .types import Principal


class ApiError(Exception):
    """An error a client can act on; rendered as ``{"error": {"code", "message"}}``."""

    def __init__(self, code: str, message: str | None = None, details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code!r}: add it to CATALOGUE")
        self.code = code
        self.status, default = CATALOGUE[code]
        self.message = message or default
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}
        self.audited = False  # set once refusals.py has recorded this refusal: never twice
        self.event: AuditEvent | None = None  # the audit entry this refusal makes (else a generic one)
        self.actor: Principal | None = None  # who was refused, when known before the request's principal
        super().__init__(f"{code}: {self.message}")

    def audited_as(self, event: AuditEvent) -> ApiError:
        """Give this refusal its audit entry (action, actor, patient, object, detail); ``refusals.py``
        writes it, with the failure outcome and this error's code, when the refusal is answered."""
        self.event = event
        return self

    def refused(self, who: Principal | None) -> ApiError:
        """Name who was refused (access control decides before the request has a principal)."""
        self.actor = who
        return self

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}
