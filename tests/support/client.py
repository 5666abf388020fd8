"""A small sync client over any httpx-style client: what the app does, in Python, for tests and bench."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from crypto import public_key_from_jwk, verify_document

TUS = {"Tus-Resumable": "1.0.0"}


class SyncClient:
    def __init__(self, http: Any) -> None:
        self.http = http
        self.credential: str | None = None
        self.device_id: str | None = None
        self.keys: dict[str, Any] = {}

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"} if self.credential else {}

    def enroll(self, code: str, label: str = "test phone") -> Any:
        """Enrol then confirm, as the app does; the enrol answer (or the failed confirmation) comes back."""
        response = self.enroll_unconfirmed(code, label)
        if response.status_code == 201:
            confirmed = self.confirm()
            if confirmed.status_code != 200:
                return confirmed
        return response

    def enroll_unconfirmed(self, code: str, label: str = "test phone") -> Any:
        """The first step only: the credential is pending until ``confirm``."""
        response = self.http.post("/api/v1/devices/enroll", json={"code": code, "label": label})
        if response.status_code == 201:
            body = response.json()
            self.credential, self.device_id = body["credential"], body["device_id"]
            self.keys = body["keys"]
        return response

    def confirm(self) -> Any:
        return self.http.post("/api/v1/devices/enroll/confirm", headers=self.auth)

    def seal_key(self) -> tuple[Any, str]:
        jwk = next(k for k in self.keys["keys"] if k["use"] == "enc")
        return public_key_from_jwk(jwk), jwk["kid"]

    def sign_keys(self) -> dict[str, Any]:
        return {k["kid"]: public_key_from_jwk(k) for k in self.keys["keys"] if k["use"] == "sig"}

    def propose(self, manifest: dict[str, Any]) -> Any:
        return self.http.post("/api/v1/batches", json=manifest, headers=self.auth)

    def create_upload(self, batch_id: str, photo_id: str, length: int) -> Any:
        metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                            for k, v in (("batch_id", batch_id), ("photo_id", photo_id)))
        return self.http.post("/api/v1/uploads", headers={**TUS, **self.auth, "Upload-Length": str(length),
                                                          "Upload-Metadata": metadata})

    def patch(self, location: str, offset: int, chunk: bytes, checksum: bool = True) -> Any:
        headers = {**TUS, **self.auth, "Upload-Offset": str(offset),
                   "Content-Type": "application/offset+octet-stream"}
        if checksum:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        return self.http.patch(location, content=chunk, headers=headers)

    def head(self, location: str) -> Any:
        return self.http.head(location, headers={**TUS, **self.auth})

    def upload(self, batch_id: str, photo_id: str, blob: bytes, chunk_size: int = 1 << 20,
               checksum: bool = True) -> Any:
        """Create and send a whole upload; returns the last response (204 when filed)."""
        created = self.create_upload(batch_id, photo_id, len(blob))
        if created.status_code != 201:
            return created
        location = created.headers["location"]
        offset = 0
        response = created
        while offset < len(blob):
            response = self.patch(location, offset, blob[offset:offset + chunk_size], checksum)
            if response.status_code != 204:
                return response
            offset = int(response.headers["upload-offset"])
        return response

    def commit(self, batch_id: str) -> Any:
        return self.http.post(f"/api/v1/batches/{batch_id}/commit", headers=self.auth)

    def sync(self, manifest: dict[str, Any], photos: list[Any]) -> dict[str, Any]:
        """Propose, upload every photo and commit, as the app does; the signed receipt, its signature checked
        against the hospital's published key (fails the test on any other answer)."""
        assert self.propose(manifest).status_code == 201
        for photo in photos:
            assert self.upload(manifest["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        committed = self.commit(manifest["batch_id"])
        assert committed.status_code == 200, committed.text
        signed: dict[str, Any] = committed.json()
        verify_document(signed["receipt"], signed["signature"], self.sign_keys())
        return signed

    def receipt(self, batch_id: str) -> Any:
        return self.http.get(f"/api/v1/batches/{batch_id}/receipt", headers=self.auth)
