"""DICOM UIDs derived from ClinPhoto ids, so a retry sends the very same instance (exactly once).

``2.25.<integer>`` is the UUID-derived UID root of DICOM PS3.5 §B.2; the UUID is a version-5
UUID of a fixed namespace and the role ("study", "series", "instance") plus the ClinPhoto id.
"""
from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("5d3b1f2e-8c4a-5e77-9a51-6c0f1c1e7a10")


def derived_uid(role: str, clinphoto_id: str) -> str:
    return "2.25." + str(uuid.uuid5(_NAMESPACE, f"clinphoto:{role}:{clinphoto_id}").int)


def study_uid(sequence_id: str) -> str:
    return derived_uid("study", sequence_id)


def series_uid(sequence_id: str) -> str:
    return derived_uid("series", sequence_id)


def instance_uid(photo_id: str) -> str:
    return derived_uid("instance", photo_id)
