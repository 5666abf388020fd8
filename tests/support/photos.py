"""Test photos: real JPEG/PNG bytes made by Pillow, sealed exactly as the app seals them."""
from __future__ import annotations

import hashlib
import io
import random
import struct
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


# what a camera or a phone's gallery may write into a JPEG and must never leave the server (issue 12, point 5)
IDENTIFYING = [b"Exif", b"CameraMaker", b"ModelX-42", b"SN-998877", b"Dr Owner", b"2026:11:27 08:15:00",
               b"x:xmpmeta", b"Photoshop 3.0", b"taken in bloc 4 by Dr Owner", b"MakerNoteSecret"]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def with_camera_metadata(image: Image.Image, progressive: bool = False) -> bytes:
    """``image`` as a camera writes it: EXIF (make, model, owner, original date, body serial number, maker
    note), XMP, IPTC, a comment and an ICC profile (colour, not identity: it is kept)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B] = "CameraMaker", "ModelX-42", "Dr Owner"
    exif[0x8769] = {0x9003: "2026:11:27 08:15:00", 0xA431: "SN-998877", 0x927C: b"MakerNoteSecret"}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif.tobytes(), icc_profile=b"\x00" * 128,
               progressive=progressive, comment=b"taken in bloc 4 by Dr Owner")
    data = out.getvalue()
    extra = (_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>Dr Owner</x:xmpmeta>")
             + _segment(0xED, b"Photoshop 3.0\x00 8BIM Dr Owner"))
    return data[:2] + extra + data[2:]


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
