"""DICOMweb STOW-RS client (PS3.18 §10.5): one instance per request, as multipart/related."""
from __future__ import annotations

import dataclasses
import uuid

import httpx


@dataclasses.dataclass(frozen=True)
class Delivery:
    ok: bool
    retry: bool  # worth trying again later (PACS down, busy, 5xx) rather than a permanent refusal
    status: int | None
    reason: str  # short, no patient data: goes into the outbox row and the audit entry


async def store(client: httpx.AsyncClient, base_url: str, instance: bytes, token: str = "") -> Delivery:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + instance
            + f"\r\n--{boundary}--\r\n".encode())
    headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
               "Accept": "application/dicom+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = await client.post(base_url.rstrip("/") + "/studies", content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Delivery(False, True, None, f"PACS unreachable ({type(exc).__name__})")
    if response.status_code in (200, 202):
        try:
            failed = response.json().get("00081198", {}).get("Value")
        except ValueError:
            failed = None
        if failed:
            return Delivery(False, False, response.status_code, "PACS refused the instance (FailedSOPSequence)")
        return Delivery(True, False, response.status_code, "stored")
    retry = response.status_code in (408, 425, 429) or response.status_code >= 500
    return Delivery(False, retry, response.status_code, f"PACS answered HTTP {response.status_code}")
