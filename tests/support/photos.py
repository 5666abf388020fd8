"""Test photos: real JPEG/PNG bytes made by Pillow, sealed exactly as the app seals them."""
from __future__ import annotations

import hashlib
import io
import random
import uuid
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from crypto import b64url_encode, seal_form, seal_photo


def make_jpeg(width: int = 640, height: int = 480, seed: int = 0, *, gps: bool = False, quality: int = 90) -> bytes:
    """A photo-like JPEG: smooth gradients plus noise, so it compresses like a real photo."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40 + rng.randint(0, 30))
    r = Image.blend(base, noise, 0.5)
    g = Image.blend(base.rotate(90).resize((width, height)), noise, 0.4)
    b = noise
    image = Image.merge("RGB", (r, g, b))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "ClinPhoto test camera"
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (48.0, 50.0, 0.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (2.0, 21.0, 0.0)
    image.save(out, format="JPEG", quality=quality, exif=exif, restart_marker_blocks=8 if seed % 2 else 0)
    return out.getvalue()


def make_png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 90)).save(out, format="PNG")
    return out.getvalue()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def sequence_form(sequence_id: str, patient_id: str = "IPP-0042", **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "sequence_id": sequence_id,
        "patient_id": patient_id,
        "performed_on": "2026-11-27",
        "procedure": "rhinoplasty",
        "anatomical_region": "nose",
        "laterality": "not_applicable",
        "timing": {"phase": "pre_op"},
        "consent": "record",
        "view_protocol": "rhinoplasty",
    }
    form.update(overrides)
    return form


class SealedPhoto:
    def __init__(self, plaintext: bytes, sealed: bytes, photo_id: str, sequence_id: str, mime: str) -> None:
        self.plaintext = plaintext
        self.sealed = sealed
        self.photo_id = photo_id
        self.sequence_id = sequence_id
        self.mime = mime

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.plaintext).hexdigest()

    @property
    def sealed_sha256(self) -> str:
        return hashlib.sha256(self.sealed).hexdigest()

    def entry(self, view: str = "frontal", **overrides: Any) -> dict[str, Any]:
        entry = {
            "photo_id": self.photo_id, "sequence_id": self.sequence_id, "view": view,
            "captured_at": now_iso(), "mime": self.mime, "sha256": self.sha256,
            "sealed_sha256": self.sealed_sha256, "sealed_size": len(self.sealed),
        }
        entry.update(overrides)
        return entry


def seal(plaintext: bytes, public_key: ec.EllipticCurvePublicKey, key_id: str, sequence_id: str,
         photo_id: str | None = None, mime: str = "image/jpeg") -> SealedPhoto:
    photo_id = photo_id or str(uuid.uuid4())
    return SealedPhoto(plaintext, seal_photo(plaintext, public_key, key_id, photo_id, sequence_id),
                       photo_id, sequence_id, mime)


def sealed_sequence(form: dict[str, Any], seal_key: tuple[ec.EllipticCurvePublicKey, str]) -> dict[str, Any]:
    """A manifest's sequence entry, as the app makes it: the form sealed to the server's key."""
    public_key, key_id = seal_key
    return {"sequence_id": form["sequence_id"], "sealed_form": b64url_encode(seal_form(form, public_key, key_id))}


def manifest(device_id: str, sequences: list[dict[str, Any]], photos: list[SealedPhoto],
             batch_id: str | None = None, views: list[str] | None = None, *,
             seal_key: tuple[ec.EllipticCurvePublicKey, str]) -> dict[str, Any]:
    """A batch manifest; ``sequences`` are clear forms, sealed here to ``seal_key`` (public key, kid)
    unless already sealed entries."""
    views = views or ["frontal", "right_lateral", "left_lateral", "right_oblique", "left_oblique", "basal"]
    return {
        "version": 1,
        "batch_id": batch_id or str(uuid.uuid4()),
        "device_id": device_id,
        "created_at": now_iso(),
        "sequences": [s if "sealed_form" in s else sealed_sequence(s, seal_key) for s in sequences],
        "photos": [p.entry(view=views[i % len(views)]) for i, p in enumerate(photos)],
    }
