"""Batch manifests: parsing and the rules a manifest must keep. Pure: no I/O.

The schema (``schemas/batch-manifest.schema.json``) checks each field; these rules check what a
schema cannot: ids unique, every photo's sequence present, the device named is the caller, and
each sequence's form, sealed by the phone to the hospital key (``crypto/FORMAT.md``, CPF1), opens
for that sequence and matches ``schemas/sequence.schema.json``.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Mapping

from crypto import CryptoError, b64url_decode, canonical_json, open_form
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import ApiError
from ..types import is_uuid
from .schemas import load_json, validate


@dataclasses.dataclass(frozen=True)
class PhotoEntry:
    photo_id: str
    sequence_id: str
    view: str
    captured_at: str
    mime: str
    sha256: str
    sealed_sha256: str
    sealed_size: int
    person_id: str | None = None  # who took it (checked when it is filed: auth/capture.py)


@dataclasses.dataclass(frozen=True)
class SequenceEntry:
    sequence_id: str
    patient_id: str
    form: Mapping[str, Any]

    @property
    def person_id(self) -> str | None:
        """Who opened the sequence on the phone (the sealed form's ``person_id``)."""
        return self.form.get("person_id")

    @property
    def form_sha256(self) -> str:
        return hashlib.sha256(canonical_json(dict(self.form))).hexdigest()


@dataclasses.dataclass(frozen=True)
class Manifest:
    batch_id: str
    device_id: str
    sequences: tuple[SequenceEntry, ...]
    photos: tuple[PhotoEntry, ...]
    digest: str  # SHA-256 of the canonical JSON: the same manifest always has the same digest
    document: Mapping[str, Any]

    def patient_of(self, sequence_id: str) -> str:
        for sequence in self.sequences:
            if sequence.sequence_id == sequence_id:
                return sequence.patient_id
        raise KeyError(sequence_id)

    def photo(self, photo_id: str) -> PhotoEntry | None:
        for photo in self.photos:
            if photo.photo_id == photo_id:
                return photo
        return None


_FORM_SEAL_ERRORS = {"wrong_sequence": "form_seal_wrong_sequence", "unknown_key": "form_seal_unknown_key"}


def _open_sequence(index: int, entry: Mapping[str, Any],
                   private_keys: Mapping[str, ec.EllipticCurvePrivateKey]) -> SequenceEntry:
    """Open one sequence's sealed form and check it; refusals name the sequence, never a value."""
    sequence_id = entry["sequence_id"]
    try:
        form = open_form(b64url_decode(entry["sealed_form"]), private_keys, sequence_id=sequence_id)
    except CryptoError as error:
        raise ApiError(_FORM_SEAL_ERRORS.get(error.reason, "form_seal_invalid"),
                       details={"sequence_id": sequence_id}) from None
    violations = validate("sequence", form)
    if violations:
        raise ApiError("schema_invalid", details={"violations": [
            {"path": f"/sequences/{index}/sealed_form{v.path}", "message": v.message} for v in violations[:20]]})
    return SequenceEntry(sequence_id=sequence_id, patient_id=form["patient_id"], form=form)


def parse_manifest(document: Any, device_id: str,
                   seal_private_keys: Mapping[str, ec.EllipticCurvePrivateKey]) -> Manifest:
    """Check a proposed manifest and open its sealed forms with the server's sealing keys."""
    violations = validate("batch-manifest", document)
    if violations:
        if isinstance(document, Mapping) and not _ids_look_sane(document):
            raise ApiError("invalid_id", details={"violations": [dataclasses.asdict(v) for v in violations[:20]]})
        raise ApiError("schema_invalid", details={"violations": [dataclasses.asdict(v) for v in violations[:20]]})
    if document["device_id"] != device_id:
        raise ApiError("manifest_inconsistent", "The manifest names another device than the caller.")
    sequence_ids = [s["sequence_id"] for s in document["sequences"]]
    if len(set(sequence_ids)) != len(sequence_ids):
        raise ApiError("manifest_inconsistent", "A sequence id appears twice in the manifest.")
    photos = tuple(
        PhotoEntry(
            photo_id=p["photo_id"], sequence_id=p["sequence_id"], view=p["view"], captured_at=p["captured_at"],
            mime=p["mime"], sha256=p["sha256"], sealed_sha256=p["sealed_sha256"], sealed_size=p["sealed_size"],
            person_id=p.get("person_id"),
        )
        for p in document["photos"]
    )
    known_views = {v["code"] for v in load_json("views")["views"]}
    unknown_views = [{"path": f"/photos/{i}/view", "message": "is not a view code of views.json"}
                     for i, p in enumerate(photos) if p.view not in known_views]
    if unknown_views:
        raise ApiError("schema_invalid", details={"violations": unknown_views[:20]})
    photo_ids = [p.photo_id for p in photos]
    if len(set(photo_ids)) != len(photo_ids):
        raise ApiError("manifest_inconsistent", "A photo id appears twice in the manifest.")
    unknown = {p.sequence_id for p in photos} - set(sequence_ids)
    if unknown:
        raise ApiError("manifest_inconsistent", "A photo names a sequence that is not in the manifest.")
    # Last, as the costliest: one ECDH per sequence, only for a manifest otherwise sound.
    sequences = tuple(_open_sequence(i, s, seal_private_keys) for i, s in enumerate(document["sequences"]))
    return Manifest(
        batch_id=document["batch_id"], device_id=device_id, sequences=sequences, photos=photos,
        digest=hashlib.sha256(canonical_json(document)).hexdigest(), document=document,
    )


def _ids_look_sane(document: Mapping[str, Any]) -> bool:
    """False when an id field is not a UUID: reported as ``invalid_id`` rather than a schema detail."""
    candidates: list[Any] = [document.get("batch_id"), document.get("device_id")]
    for s in document.get("sequences") or []:
        if isinstance(s, Mapping):
            candidates.append(s.get("sequence_id"))
    for p in document.get("photos") or []:
        if isinstance(p, Mapping):
            candidates += [p.get("photo_id"), p.get("sequence_id"), p.get("person_id")]
    return all(c is None or is_uuid(c) for c in candidates)
