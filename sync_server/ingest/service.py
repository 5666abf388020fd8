"""The sync service: batches, tus uploads and commits, over the database and storage.

Endpoints translate HTTP to these calls and back; the rules themselves live in ``protocol/``
(pure) and ``ingest/pipeline.py`` (per-photo checks). Every outcome, refusals included, is
audited; a refusal carries its audit entry (``ApiError.audited_as``) and ``refusals.py`` writes it
in a transaction of its own, so that rolling back the refused work does not roll back its entry.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import os
import secrets
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

from crypto import KeyStore

from ..audit.log import MINOR_FAILURE, AuditEvent, append, record
from ..auth import capture
from ..clinical import stats
from ..cluster import FileLock
from ..db import Db, Writer
from ..errors import ApiError
from ..refusals import audit_refusal
from ..events import BATCH_COMMITTED, INGEST_UPLOADS, PHOTO_FILED, Events
from ..protocol.manifest import Manifest, PhotoEntry
from ..protocol.receipt import build_receipt, sign_receipt
from ..settings import Settings
from ..storage.fields import seal_form
from ..storage.files import STORAGE_ERRORS
from ..storage.objects import ObjectStore
from ..types import Principal, is_uuid
from .pipeline import FiledPhoto, IngestStream
from ..clock import iso, utc_now

log = logging.getLogger(__name__)

FILED_STATES = ("filed", "verified", "quarantined")
# Received bytes go to a worker thread in batches of about this size, while the next batch arrives.
HANDOFF_BYTES = 1 << 20
# Uploads paused between two PATCHes keep their stream (no file open); past this many, the oldest
# is given up and, if its upload resumes, rebuilt from its part file.
SUSPENDED_STREAMS = 64
# An upload with what the pipeline needs of its photo (one query per PATCH).
_UPLOAD_SELECT = (
    "SELECT u.*, p.sequence_id, p.view, p.captured_at, p.mime, p.sha256, p.sealed_sha256, p.sealed_size, "
    "p.person_id, s.patient_id FROM upload u JOIN photo p ON p.id = u.photo_id JOIN sequence s ON s.id = p.sequence_id"
)




class _KeyedLocks:
    """One asyncio.Lock per key, forgotten when nobody holds it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def get(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock


class SyncService:
    def __init__(self, settings: Settings, store: Db, keys: KeyStore, objects: ObjectStore, events: Events) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.objects = objects
        self.uploads_dir = settings.uploads_dir
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._upload_locks = _KeyedLocks()
        self._photo_locks = _KeyedLocks()
        self._ingest_slots = asyncio.Semaphore(settings.ingest_concurrency)
        self.storage_fault: str | None = None
        self.low_space_alerted = False  # /healthz audits a low-space episode once  # the last write's storage error, until a write succeeds
        self._streaming = 0  # PATCH bodies being received or filed now
        # no stream outlives its process: what a previous one staged is swept at start with the temp files
        self._streams: collections.OrderedDict[str, IngestStream] = collections.OrderedDict()
        self.events = events
        # set by Services: waits while the decode backlog is full (``Decoder.wait_room``)
        self.decode_room: Callable[[], Awaitable[bool]] | None = None

    # -- audit helpers ---------------------------------------------------------------------

    # -- batches ---------------------------------------------------------------------------

    async def propose(self, who: Principal, manifest: Manifest, address: str | None) -> tuple[bool, dict[str, Any]]:
        """Record a batch proposal; returns (created, body). Proposing it again changes nothing."""
        event = AuditEvent(action="batch.propose", actor=who.actor, device_id=who.device_id,
                           object=f"batch/{manifest.batch_id}", address=address,
                           detail={"photos": len(manifest.photos), "sequences": len(manifest.sequences)})
        try:
            async with self.store.write() as db:
                existing = await db.fetch_one("SELECT device_id, manifest_sha256 FROM batch WHERE id = :id",
                                              {"id": manifest.batch_id})
                created = existing is None
                if existing is not None:
                    if existing["device_id"] != who.device_id or existing["manifest_sha256"] != manifest.digest:
                        raise ApiError("batch_conflict")
                else:
                    await self._record_manifest(db, who, manifest)
                    await append(db, event)
        except ApiError as error:
            raise error.audited_as(event) from None
        return created, await self.batch_status(who, manifest.batch_id)

    async def _record_manifest(self, db: Writer, who: Principal, manifest: Manifest) -> None:
        now = iso(utc_now())
        for sequence in manifest.sequences:
            patient = db.fields.pid(sequence.patient_id)  # stored sealed (storage/fields.py)
            row = await db.fetch_one("SELECT patient_id, form_sha256 FROM sequence WHERE id = :id",
                                     {"id": sequence.sequence_id})
            if row is None:
                await db.execute(
                    "INSERT INTO sequence (id, patient_id, device_id, form_sha256, form, created_at, person_id) "
                    "VALUES (:id, :patient, :device, :fs, :form, :t, :person)",
                    {"id": sequence.sequence_id, "patient": patient, "device": who.device_id,
                     "fs": sequence.form_sha256, "form": seal_form(self.keys, sequence.sequence_id, sequence.form), "t": now,
                     "person": sequence.person_id},
                )
                await stats.add_sequence(db, sequence.sequence_id, patient, sequence.form, now)
                actor, detail = await _attributed(db, who, sequence.person_id)
                await append(db, AuditEvent(action="sequence.create", actor=actor, device_id=who.device_id,
                                            patient_id=sequence.patient_id, object=f"sequence/{sequence.sequence_id}",
                                            detail={"batch_id": manifest.batch_id, **detail,
                                                    **({"patient_verified": False}
                                                       if sequence.form.get("patient_verified") is False else {})}))
            elif row["patient_id"] != patient or row["form_sha256"] != sequence.form_sha256:
                raise ApiError("sequence_conflict", details={"sequence_id": sequence.sequence_id})
        known: dict[str, tuple[Any, ...]] = {}
        ids = [p.photo_id for p in manifest.photos]
        for start in range(0, len(ids), 500):  # a few statements however large the batch
            chunk = {f"p{i}": photo_id for i, photo_id in enumerate(ids[start:start + 500])}
            for row in await db.run(
                    "SELECT id, sequence_id, sha256, sealed_sha256, sealed_size, person_id FROM photo WHERE id IN ("
                    + ", ".join(f":{name}" for name in chunk) + ")", chunk):
                known[row[0]] = tuple(row[1:])
        for photo in manifest.photos:
            row = known.get(photo.photo_id)
            if row is not None and row != (photo.sequence_id, photo.sha256, photo.sealed_sha256, photo.sealed_size,
                                           photo.person_id):
                raise ApiError("photo_conflict", details={"photo_id": photo.photo_id})
        await db.run_many(
            "INSERT INTO photo (id, sequence_id, view, captured_at, mime, sha256, sealed_sha256, sealed_size, state, "
            "person_id) VALUES (:id, :seq, :view, :cap, :mime, :sha, :ssha, :ssize, 'expected', :person)",
            [{"id": photo.photo_id, "seq": photo.sequence_id, "view": photo.view, "cap": photo.captured_at,
              "mime": photo.mime, "sha": photo.sha256, "ssha": photo.sealed_sha256, "ssize": photo.sealed_size,
              "person": photo.person_id}
             for photo in manifest.photos if photo.photo_id not in known])
        await db.execute(
            "INSERT INTO batch (id, device_id, manifest_sha256, manifest, state, created_at) "
            "VALUES (:id, :device, :digest, :manifest, 'open', :t)",
            {"id": manifest.batch_id, "device": who.device_id, "digest": manifest.digest,
             "manifest": json.dumps(dict(manifest.document), sort_keys=True), "t": now},
        )
        await db.run_many(
            "INSERT INTO batch_photo (batch_id, photo_id) VALUES (:b, :p)",
            [{"b": manifest.batch_id, "p": p.photo_id} for p in manifest.photos],
        )

    async def _batch_row(self, who: Principal, batch_id: str) -> dict[str, Any]:
        if not is_uuid(batch_id):
            raise ApiError("invalid_id")
        row = await self.store.fetch_one("SELECT * FROM batch WHERE id = :id", {"id": batch_id})
        if row is None or row["device_id"] != who.device_id:
            raise ApiError("batch_not_found")
        return dict(row)

    async def batch_status(self, who: Principal, batch_id: str) -> dict[str, Any]:
        batch = await self._batch_row(who, batch_id)
        rows = await self.store.fetch_all(
            "SELECT p.id, p.state FROM batch_photo b JOIN photo p ON p.id = b.photo_id WHERE b.batch_id = :b ORDER BY p.id",
            {"b": batch_id})
        return {
            "batch_id": batch_id,
            "state": batch["state"],
            "missing": [r["id"] for r in rows if r["state"] not in FILED_STATES],
            "have": [r["id"] for r in rows if r["state"] in FILED_STATES],
        }

    async def commit(self, who: Principal, batch_id: str, address: str | None) -> dict[str, Any]:
        event = AuditEvent(action="batch.commit", actor=who.actor, device_id=who.device_id,
                           object=f"batch/{batch_id}", address=address)
        try:
            batch = await self._batch_row(who, batch_id)
            if batch["state"] == "committed":
                raise ApiError("batch_already_committed", details={"receipt_url": f"/api/v1/batches/{batch_id}/receipt"})
            await self.finalize_complete_uploads(batch_id)
            rows = await self.store.fetch_all(
                "SELECT p.* FROM batch_photo b JOIN photo p ON p.id = b.photo_id WHERE b.batch_id = :b", {"b": batch_id})
            missing = [r["id"] for r in rows
                       if r["state"] not in FILED_STATES or not self.objects.exists(r["storage_key"], r["stored_size"])]
            if missing:
                raise ApiError("batch_incomplete", details={"missing": sorted(missing)})
            names = await _person_names(self.store, {r["person_id"] for r in rows if r["person_id"]})
            receipt = build_receipt(
                batch_id=batch_id, device_id=who.device_id or "", issued_at=iso(utc_now()),
                server=self.settings.resolved_public_url,
                photos=[{"photo_id": r["id"], "sequence_id": r["sequence_id"], "sha256": r["sha256"],
                         "sealed_sha256": r["sealed_sha256"], "size": r["size"], "person_id": r["person_id"],
                         "person_name": names.get(r["person_id"]),
                         "held": r["quarantine_reason"] if r["state"] == "quarantined"
                         and r["quarantine_reason"] in PERSON_HOLDS else None} for r in rows],
            )
            signed = sign_receipt(receipt, self.keys.sign_private_key, self.keys.sign_key_id)
            async with self.store.write() as db:
                state = await db.fetch_val("SELECT state FROM batch WHERE id = :id", {"id": batch_id})
                if state != "open":  # a concurrent commit of the same batch got there first
                    raise ApiError("batch_already_committed")
                await db.execute(
                    "UPDATE batch SET state = 'committed', committed_at = :t, receipt = :r WHERE id = :id",
                    {"t": receipt["issued_at"], "r": json.dumps(signed), "id": batch_id})
                digest = hashlib.sha256(json.dumps(signed, sort_keys=True).encode()).hexdigest()
                await append(db, AuditEvent(action=event.action, actor=event.actor, device_id=event.device_id,
                                            object=event.object, address=address,
                                            detail={"photos": len(rows), "receipt_sha256": digest}))
            await self.events.publish(BATCH_COMMITTED, batch_id=batch_id)
            return signed
        except ApiError as error:
            raise error.audited_as(event) from None

    async def receipt(self, who: Principal, batch_id: str) -> dict[str, Any]:
        batch = await self._batch_row(who, batch_id)
        if batch["state"] != "committed":
            raise ApiError("receipt_not_ready")
        return json.loads(batch["receipt"])

    # -- tus uploads -----------------------------------------------------------------------

    def _part_path(self, upload_id: str) -> Path:
        return self.uploads_dir / f"{upload_id}.part"

    async def create_upload(self, who: Principal, length: int, metadata: dict[str, str],
                            address: str | None) -> dict[str, Any]:
        batch_id, photo_id = metadata.get("batch_id"), metadata.get("photo_id")
        event = AuditEvent(action="upload.create", actor=who.actor, device_id=who.device_id, address=address,
                           object=f"photo/{photo_id}" if is_uuid(photo_id) else None,
                           detail={"batch_id": batch_id if is_uuid(batch_id) else None, "length": length})
        try:
            if batch_id is None or photo_id is None:
                raise ApiError("upload_metadata_invalid")
            if not is_uuid(batch_id) or not is_uuid(photo_id):
                raise ApiError("invalid_id")
            photo = await self.store.fetch_one(
                "SELECT b.device_id, b.state AS batch_state, p.state, p.sealed_size, s.patient_id FROM batch b "
                "LEFT JOIN batch_photo bp ON bp.batch_id = b.id AND bp.photo_id = :p "
                "LEFT JOIN photo p ON p.id = bp.photo_id LEFT JOIN sequence s ON s.id = p.sequence_id "
                "WHERE b.id = :b", {"b": batch_id, "p": photo_id})
            if photo is None or photo["device_id"] != who.device_id:
                raise ApiError("batch_not_found")
            if photo["batch_state"] != "open":
                raise ApiError("batch_already_committed")
            if photo["state"] != "expected":
                raise ApiError("upload_not_expected")
            if photo["sealed_size"] != length:
                raise ApiError("sealed_size_mismatch")
            if self.decode_room is not None:
                await self.decode_room()  # bounded wait: the photo is then taken whatever the backlog
            upload_id = secrets.token_hex(16)
            expires = utc_now() + timedelta(seconds=self.settings.upload_expiry_seconds)
            async with self.store.write() as db:
                await db.run(
                    'INSERT INTO upload (id, device_id, batch_id, photo_id, length, "offset", state, created_at, expires_at) '
                    "VALUES (:id, :d, :b, :p, :len, 0, 'open', :t, :e)",
                    {"id": upload_id, "d": who.device_id, "b": batch_id, "p": photo_id, "len": length,
                     "t": iso(utc_now()), "e": iso(expires)})
                await append(db, AuditEvent(action=event.action, actor=event.actor, device_id=event.device_id,
                                            patient_id=photo["patient_id"], object=event.object, address=address,
                                            detail={**event.detail, "upload_id": upload_id}))
            # made after the upload is recorded: a part file with no open upload is an orphan (sweep_orphan_parts)
            with contextlib.suppress(OSError):  # else the first PATCH makes it
                self._part_path(upload_id).touch(mode=0o600, exist_ok=False)
            return {"id": upload_id, "expires": expires}
        except ApiError as error:
            raise error.audited_as(event) from None

    async def _upload_row(self, who: Principal, upload_id: str) -> dict[str, Any]:
        if len(upload_id) != 32 or any(c not in "0123456789abcdef" for c in upload_id):
            raise ApiError("not_found")
        row = await self.store.fetch_one(_UPLOAD_SELECT + " WHERE u.id = :id", {"id": upload_id})
        if row is None or row["device_id"] != who.device_id:
            raise ApiError("not_found")
        row = dict(row)
        if row["state"] != "open":
            raise ApiError("upload_gone")
        if row["expires_at"] < iso(utc_now()):
            raise ApiError("upload_expired")
        return row

    def _offset(self, upload_id: str) -> int:
        try:
            return self._part_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    async def upload_info(self, who: Principal, upload_id: str) -> dict[str, Any]:
        row = await self._upload_row(who, upload_id)
        offset = self._offset(upload_id)
        return {"offset": offset, "length": row["length"], "expires_at": row["expires_at"]}

    async def write_chunk(self, who: Principal, upload_id: str, offset: int, checksum: bytes | None,
                          body: AsyncIterator[bytes], address: str | None) -> int:
        """Append one PATCH body; when the upload is whole, verify and file it. Returns the new offset."""
        lock = self._upload_locks.get(upload_id)
        if lock.locked():
            raise ApiError("upload_busy")
        async with lock:
            await self._upload_row(who, upload_id)
            with self._holding_part(upload_id):
                return await self._write_chunk(who, upload_id, offset, checksum, body, address)

    @contextlib.contextmanager
    def _holding_part(self, upload_id: str) -> Iterator[None]:
        """Hold the upload's part file against every other process (one volume, several servers): the
        tus client may resume on any of them, or send a PATCH again to another while the first runs."""
        part = FileLock(self._part_path(upload_id))
        if not part.try_acquire():
            raise ApiError("upload_busy")
        try:
            yield
        finally:
            part.release()

    async def _write_chunk(self, who: Principal, upload_id: str, offset: int, checksum: bytes | None,
                           body: AsyncIterator[bytes], address: str | None) -> int:
        try:
            row = await self._upload_row(who, upload_id)  # again, under the lock: another process may have filed it
        except ApiError:
            self._part_path(upload_id).unlink(missing_ok=True)  # taking the lock made it again: it is not the upload's
            raise
        current = self._offset(upload_id)
        event = AuditEvent(action="upload.patch", actor=who.actor, device_id=who.device_id, address=address,
                           object=f"photo/{row['photo_id']}", detail={"upload_id": upload_id, "offset": offset})
        if offset != current:
            raise ApiError("upload_offset_mismatch", details={"offset": current}).audited_as(event)
        await self._count_streaming(+1)
        try:
            stream = await self._stream_at(row, current)
            try:
                written = await self._append_body(stream, upload_id, current, row["length"], checksum, body, event)
            except BaseException as exc:
                stream.discard()
                if isinstance(exc, ApiError) and exc.code in STORAGE_ERRORS:
                    raise await self._storage_refused(exc, upload_id, current, event) from None
                raise
            new_offset = current + written
            if stream.offset != new_offset:  # the part file was cut back: the stream took bytes it no longer has
                stream.discard()
            elif new_offset == row["length"]:
                await self._finalize(row, address, stream)
                self.storage_fault = None
            else:
                self.storage_fault = None
                self._suspend(upload_id, stream)
                await record(self.store, AuditEvent(  # a chunk short of the whole: filing audits the last one
                    action=event.action, actor=event.actor, device_id=event.device_id, address=address,
                    object=event.object, detail={**event.detail, "written": written}))
            return new_offset
        finally:
            await self._count_streaming(-1)

    async def _storage_refused(self, error: ApiError, upload_id: str, cut_to: int | None,
                               event: AuditEvent) -> ApiError:
        """A full or failing disk: keep nothing half-written, say so in /healthz and the audit."""
        self.storage_fault = error.code
        log.error("storage refused a write (%s) for upload %s: nothing of it was kept", error.code, upload_id)
        if cut_to is not None:
            try:
                os.truncate(self._part_path(upload_id), cut_to)
            except OSError:
                pass  # the stream's bytes past cut_to were never acknowledged; HEAD reports the real size
        return error.audited_as(event)  # refusals.py says so in the log if the audit cannot be written either

    async def _count_streaming(self, change: int) -> None:
        self._streaming += change
        await self.events.publish(INGEST_UPLOADS, count=self._streaming)

    async def _stream_at(self, upload: dict[str, Any], offset: int) -> IngestStream:
        """The upload's stream, having taken its first ``offset`` bytes: kept from the last PATCH, or
        rebuilt from the part file (after a restart, or when it was given up)."""
        stream = self._streams.pop(upload["id"], None)
        if stream is not None:
            if stream.offset == offset:
                return stream
            stream.discard()
        stream = IngestStream(
            _photo_entry(upload), part=self._part_path(upload["id"]), objects=self.objects,
            staging_name=upload["id"], seal_keys=self.keys.seal_private_keys, kek_id=self.keys.kek_id,
            kek=self.keys.kek, max_pixels=self.settings.max_pixels)
        if offset:
            try:
                await asyncio.to_thread(stream.replay, offset)
            except BaseException:
                stream.discard()
                raise
        return stream

    def _suspend(self, upload_id: str, stream: IngestStream) -> None:
        stream.suspend()
        self._streams[upload_id] = stream
        while len(self._streams) > SUSPENDED_STREAMS:
            self._streams.popitem(last=False)[1].discard()

    async def _append_body(self, stream: IngestStream, upload_id: str, start: int, length: int,
                           checksum: bytes | None, body: AsyncIterator[bytes], event: AuditEvent) -> int:
        """Hand the body to ``stream`` in batches, in a worker thread, while the next batch arrives.

        At most one batch is in the thread and one gathering, so an upload holds about
        ``2 * HANDOFF_BYTES`` of memory whatever its size.
        """
        # from offset 0 the whole blob's running hash is the chunk's: the bytes are hashed once
        chunk_digest = None if checksum is None or start == 0 else hashlib.sha256()
        loop = asyncio.get_running_loop()
        pending: list[bytes] = []
        pending_size = written = 0
        feeding: asyncio.Future[None] | None = None

        async def hand_off(last: bool) -> None:
            nonlocal feeding, pending, pending_size
            if feeding is not None:
                running, feeding = feeding, None
                await running
            if pending:
                feeding = loop.run_in_executor(None, stream.feed, pending, chunk_digest)
                pending, pending_size = [], 0
            if last and feeding is not None:
                running, feeding = feeding, None
                await running

        def cut_back() -> None:
            os.truncate(self._part_path(upload_id), start)

        try:
            try:
                async for chunk in body:
                    if not chunk:
                        continue
                    if start + written + len(chunk) > length:
                        await hand_off(last=True)
                        cut_back()
                        raise ApiError("upload_overflow").audited_as(event)
                    pending.append(chunk)
                    pending_size += len(chunk)
                    written += len(chunk)
                    if pending_size >= HANDOFF_BYTES:
                        await hand_off(last=False)
            except ApiError:
                raise
            except Exception:
                # the client went away mid-body: without a checksum the prefix is still good (tus core)
                await hand_off(last=True)
                if checksum is not None:
                    cut_back()
                    return 0
                return written
            await hand_off(last=True)
        finally:
            if feeding is not None:  # cancelled while a batch is in the thread: let it land first
                await asyncio.shield(feeding)
        if checksum is not None:
            got = (chunk_digest.digest() if chunk_digest is not None else stream.sealed_digest())
            if got != checksum:
                cut_back()
                raise ApiError("upload_checksum_mismatch").audited_as(event)
        return written

    async def _finalize(self, upload: dict[str, Any], address: str | None, stream: IngestStream | None = None) -> None:
        """The upload is whole: verify, file, record. A refusal discards the upload's bytes."""
        if stream is None:  # bytes that arrived before a restart
            stream = await self._stream_at(upload, upload["length"])
        expected = stream.expected
        device_actor = f"device:{upload['device_id']}"
        event = AuditEvent(action="photo.file", actor=device_actor, device_id=upload["device_id"],
                           patient_id=upload["patient_id"], object=f"photo/{expected.photo_id}", address=address,
                           detail={"batch_id": upload["batch_id"], "upload_id": upload["id"]})
        async with self._photo_locks.get(expected.photo_id):
            current = await self.store.fetch_val("SELECT state FROM photo WHERE id = :id", {"id": expected.photo_id})
            if current in FILED_STATES:  # a parallel upload of the same photo won: this copy is redundant
                stream.discard()
                await self._close_upload(upload["id"], "done", None)
                return
            try:
                async with self._ingest_slots:
                    filed: FiledPhoto = await asyncio.to_thread(stream.finish)
            except ApiError as error:
                if error.code in STORAGE_ERRORS:  # the bytes received are good: filing is tried again
                    raise await self._storage_refused(error, upload["id"], None, event) from None
                await self._close_upload(upload["id"], "failed", error.code)
                raise error.audited_as(event) from None
            async with self.store.write() as db:
                # who took it is judged now, at filing: a person revoked since the photo was taken is caught
                person, held = (None, None) if expected.person_id is None else \
                    await capture.check(db, upload["device_id"], expected.person_id)
                left_expected = await db.run(
                    "UPDATE photo SET state = :state, size = :size, width = :w, height = :h, storage_key = :key, "
                    "kek_id = :kek, stored_size = :stored, filed_at = :t, quarantine_reason = :reason "
                    "WHERE id = :id AND state = 'expected' RETURNING sequence_id",
                    {"state": "quarantined" if held else "filed", "reason": held,
                     "size": filed.size, "w": filed.width, "h": filed.height, "key": filed.storage_key,
                     "kek": filed.kek_id, "stored": filed.stored_size, "t": iso(utc_now()), "id": filed.photo_id})
                for (sequence_id,) in left_expected:  # counted in the activity figures once, as it is filed
                    await stats.add_photo(db, sequence_id)
                await db.run("UPDATE upload SET state = 'done', \"offset\" = length WHERE id = :id",
                             {"id": upload["id"]})
                if not left_expected:  # another process filed another upload of this photo first: that one stands
                    self._part_path(upload["id"]).unlink(missing_ok=True)
                    return
                taken_by = _taken_by(expected.person_id, person)
                await append(db, AuditEvent(action=event.action, actor=device_actor if held or person is None
                                            else f"user:{person['id']}", device_id=event.device_id,
                                            patient_id=event.patient_id, object=event.object, address=address,
                                            detail={**event.detail, "sha256": expected.sha256, "size": filed.size,
                                                    **taken_by, **({"held": held} if held else {})}))
                if held:
                    await append(db, AuditEvent(action="photo.quarantine", outcome=MINOR_FAILURE, actor=device_actor,
                                                device_id=event.device_id, patient_id=event.patient_id,
                                                object=event.object, address=address,
                                                detail={"code": held, "reason": held, **taken_by}))
            self._part_path(upload["id"]).unlink(missing_ok=True)
        if not held:  # a photo held for its person is not decoded nor shown: the decoder takes filed ones only
            await self.events.publish(PHOTO_FILED, photo_id=filed.photo_id)

    async def _close_upload(self, upload_id: str, state: str, code: str | None) -> None:
        stream = self._streams.pop(upload_id, None)
        if stream is not None:
            stream.discard()
        async with self.store.write() as db:
            await db.execute("UPDATE upload SET state = :s, error_code = :c WHERE id = :id",
                             {"s": state, "c": code, "id": upload_id})
        self._part_path(upload_id).unlink(missing_ok=True)

    async def terminate(self, who: Principal, upload_id: str, address: str | None) -> None:
        async with self._upload_locks.get(upload_id):
            await self._upload_row(who, upload_id)
            with self._holding_part(upload_id):  # busy while another process takes a PATCH of it
                row = await self._upload_row(who, upload_id)
                await self._close_upload(upload_id, "terminated", None)
            async with self.store.write() as db:
                await append(db, AuditEvent(action="upload.terminate", actor=who.actor, device_id=who.device_id,
                                            object=f"photo/{row['photo_id']}", address=address,
                                            detail={"upload_id": upload_id}))

    async def finalize_complete_uploads(self, batch_id: str | None = None) -> int:
        """File uploads whose bytes all arrived but were not filed (a crash between the two)."""
        query = _UPLOAD_SELECT + " WHERE u.state = 'open'" + (" AND u.batch_id = :b" if batch_id else "")
        rows = await self.store.fetch_all(query, {"b": batch_id} if batch_id else None)
        done = 0
        for row in rows:
            if self._offset(row["id"]) == row["length"]:
                lock = self._upload_locks.get(row["id"])
                if lock.locked():
                    continue
                async with lock:
                    try:
                        with self._holding_part(row["id"]):  # busy: another process is filing it now
                            if await self.store.fetch_val("SELECT state FROM upload WHERE id = :id",
                                                          {"id": row["id"]}) != "open":
                                continue  # another process filed it since
                            await self._finalize(dict(row), None)
                        done += 1
                    except ApiError as error:
                        if error.code == "upload_busy":
                            continue
                        await audit_refusal(self.store, error)  # no request answers it; the device uploads again
        return done

    async def expire_uploads(self) -> int:
        rows = await self.store.fetch_all("SELECT id FROM upload WHERE state = 'open' AND expires_at < :now",
                                          {"now": iso(utc_now())})
        for row in rows:
            await self._close_upload(row["id"], "expired", None)
        return len(rows)

    async def sweep_orphan_parts(self) -> int:
        """Remove part files whose upload is not open (closed before a crash removed its file).

        The folder is listed before the open uploads are read: a part file another process is
        creating now belongs to an upload it committed before making the file, so it is read too."""
        parts = list(self.uploads_dir.glob("*.part"))
        open_ids = {r["id"] for r in await self.store.fetch_all("SELECT id FROM upload WHERE state = 'open'")}
        removed = 0
        for part in parts:
            if part.stem not in open_ids:
                part.unlink(missing_ok=True)
                removed += 1
        return removed


def _photo_entry(upload: dict[str, Any]) -> PhotoEntry:
    """What the manifest says of an upload's photo (from an ``_UPLOAD_SELECT`` row)."""
    return PhotoEntry(photo_id=upload["photo_id"], sequence_id=upload["sequence_id"], view=upload["view"],
                      captured_at=upload["captured_at"], mime=upload["mime"], sha256=upload["sha256"],
                      sealed_sha256=upload["sealed_sha256"], sealed_size=upload["sealed_size"],
                      person_id=upload.get("person_id"))


# the quarantine reasons a photo can get from its person (auth/capture.py); the receipt says "held"
PERSON_HOLDS = ("person_unknown", "person_revoked", "person_not_on_device", "person_cannot_capture")


def _taken_by(person_id: str | None, person: dict[str, Any] | None) -> dict[str, Any]:
    """Audit detail naming the person a photo or sequence names (nothing when it names nobody)."""
    if person_id is None:
        return {}
    return {"person": person_id, **({"person_name": person["name"]} if person is not None else {})}


async def _attributed(db: Writer, who: Principal, person_id: str | None) -> tuple[str, dict[str, Any]]:
    """(actor, detail) for work a device did for a person: the person when they may capture there, else the
    device with the refusal's code (the work is not refused: photos are judged one by one when filed)."""
    if person_id is None:
        return who.actor, {}
    person, problem = await capture.check(db, who.device_id or "", person_id)
    detail = _taken_by(person_id, person)
    if problem is not None:
        return who.actor, {**detail, "person_problem": problem}
    return f"user:{person_id}", detail


async def _person_names(store: Db, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    params = {f"p{i}": person_id for i, person_id in enumerate(sorted(ids))}
    rows = await store.fetch_all("SELECT id, name FROM person WHERE id IN (" + ", ".join(f":{k}" for k in params) + ")",
                                 params)
    return {r["id"]: r["name"] for r in rows}
