"""Consent-aware exports: a ZIP of photos and ``manifest.json``, written to a temporary file (bounded memory).

Care exports (for the patient's record) carry the original pixels as filed, named by view and date, less the
camera metadata (a JPEG's EXIF, XMP, IPTC, maker notes and comments removed losslessly by ``strip.py``, the one
stripping function of every outbound path), and the manifest names the patient: they go from one clinician to the record. Teaching and publication exports are
de-identified: each image is decoded and re-encoded by Pillow into a fresh JPEG (no EXIF, XMP, IPTC, ICC or
comment), named at random, and the manifest holds no patient id, name, birth date, capture date, surgeon
or free-text note — only view, procedure, region, laterality, phase and delay.
"""
from __future__ import annotations

import io
import json
import secrets
import tempfile
import zipfile
from typing import IO, Any, Callable, Mapping, Sequence

from PIL import Image, ImageOps

from . import catalog
from ..strip import strip_jpeg_metadata
from ..clock import now_iso

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "image/webp": "webp"}


def refused(purpose: str, photos: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids of photos that may not leave for this purpose (consent, or quarantined)."""
    return [p["id"] for p in photos if p["state"] == "quarantined"
            or not catalog.allowed(purpose, p["consent"], catalog.shows_face(p["form"]))]


def deidentify(original: bytes) -> bytes:
    """A fresh JPEG of the pixels only: upright, sRGB-agnostic RGB, no metadata of any kind."""
    with Image.open(io.BytesIO(original)) as image:
        pixels = ImageOps.exif_transpose(image).convert("RGB")
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _clinical(form: Mapping[str, Any], photo: Mapping[str, Any]) -> dict[str, Any]:
    timing = form.get("timing") or {}
    return {"view": photo["view"], "view_label": catalog.view_label(photo["view"]),
            "procedure": catalog.coded("procedure", form.get("procedure")),
            "region": catalog.coded("anatomical_region", form.get("anatomical_region")),
            "laterality": form.get("laterality"), "phase": timing.get("phase"),
            "delay_days": timing.get("delay_days")}


def write_zip(purpose: str, photos: Sequence[Mapping[str, Any]], read: Callable[[str], bytes]) -> IO[bytes]:
    """The export as a temporary file positioned at 0; ``read(storage_key)`` gives an original's bytes."""
    spool = tempfile.TemporaryFile()
    entries: list[dict[str, Any]] = []
    care = purpose == "care"
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for i, photo in enumerate(photos, start=1):
            original = read(photo["storage_key"])
            form = photo["form"]
            if care:
                day = str(photo["captured_at"])[:10]
                name = f"{i:03d}-{photo['view']}-{day}.{EXTENSIONS.get(photo['mime'], 'bin')}"
                data = strip_jpeg_metadata(original) if photo["mime"] == "image/jpeg" else original
                entry = {"file": name, "photo_id": photo["id"], "sequence_id": photo["sequence_id"],
                         "patient_id": photo["patient_id"], "captured_at": photo["captured_at"],
                         "consent": photo["consent"], "surgeon": form.get("surgeon"), **_clinical(form, photo)}
            else:
                name = f"{secrets.token_hex(8)}.jpg"
                data = deidentify(original)
                entry = {"file": name, **_clinical(form, photo)}
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
            entries.append(entry)
        if not care:
            entries.sort(key=lambda e: e["file"])  # the order of the request would link files to a timeline
        manifest = {"format": "clinphoto-export", "version": 1, "purpose": purpose,
                    "deidentified": not care, "photos": entries}
        if care:
            manifest["created_at"] = now_iso()
        archive.writestr(zipfile.ZipInfo("manifest.json", date_time=(1980, 1, 1, 0, 0, 0)),
                         json.dumps(manifest, ensure_ascii=False, indent=2))
    spool.seek(0)
    return spool
