"""The durable outbox: one row per photo and target (``pacs``: STOW-RS; ``fhir``: FHIR transaction push),
delivered with retries and backoff.

A row is written in the same database as the photo, so nothing is lost across restarts; the
worker picks due rows, and the DICOM UIDs derived from the photo id make a repeated delivery
(crash between the PACS's answer and our commit) store the very same instance: exactly once.
States: pending (due at next_attempt_at), sent, skipped (the original cannot be encapsulated
bit-exact, e.g. PNG), failed (the PACS refused it for good). Every failure is audited.

Copies follow merges: a row remembers the identity it was delivered under (``sent_patient_id``).
When an HL7 A40 moves a sequence to the surviving identity, ``follow`` (inside the merge's own
transaction, so a crash cannot lose it) puts its sent rows back to pending: the PACS receives the
same instances (same SOP Instance UIDs) under the survivor, then, with ``CLINPHOTO_ORTHANC_URL``,
the copies Orthanc still files under the old Patient ID are deleted; the EMR receives the same
``PUT`` with the new subject. A demographic update (HL7 A08 after delivery: a new name, birth date
or sex) sends the copies again the same way, rebuilt from the index; Orthanc keeps an instance it
already holds unchanged, so with ``CLINPHOTO_ORTHANC_URL`` its copy is removed just before. A delivery that was in flight while the merge committed is not
marked sent: it goes again under the survivor.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

import httpx

from ..db import Writer
from ..storage.fields import open_form, open_patient
from ..audit.log import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS, AuditEvent, append
from ..events import stop_task, wait_event
from . import dicom, fhir, orthanc, push, stow
from .uids import instance_uid
from ..clock import iso, now_iso, utc_now

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("clinphoto.interop.outbox")

PACS = "pacs"
FHIR = "fhir"
# With nothing due, the leader looks again this often: rows another server process queued are
# delivered within it (that process cannot wake the leader's loop).
IDLE_SECONDS = 5.0



class Outbox:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def targets(self) -> list[str]:
        return [t for t, on in ((PACS, self.settings.dicomweb_url), (FHIR, self.settings.fhir_push_url)) if on]

    @property
    def enabled(self) -> bool:
        return bool(self.targets)

    async def start(self) -> None:
        if not self.enabled:
            return
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        self._task = asyncio.create_task(self._run(), name="clinphoto-interop-outbox")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def enqueue(self, photo_ids: list[str]) -> int:
        """Note photos for delivery (idempotent); returns how many rows were new."""
        if not self.enabled or not photo_ids:
            return 0
        added = 0
        t = now_iso("microseconds")
        async with self.store.write() as db:
            for photo_id in photo_ids:
                for target in self.targets:
                    if await db.fetch_one("SELECT 1 FROM interop_outbox WHERE photo_id = :p AND target = :t",
                                          {"p": photo_id, "t": target}):
                        continue
                    await db.execute(
                        "INSERT INTO interop_outbox (photo_id, target, state, attempts, next_attempt_at, created_at) "
                        "VALUES (:p, :target, 'pending', 0, :t, :t)", {"p": photo_id, "target": target, "t": t})
                    added += 1
        self._wake.set()
        return added

    def wake(self) -> None:
        self._wake.set()

    async def follow(self, db: Writer, sequence_ids: list[str]) -> int:
        """Deliver again, under their new identity, the copies already delivered for these sequences
        (inside the write that moved them); returns how many rows were put back to pending."""
        if not self.enabled or not sequence_ids:
            return 0
        params = {f"s{i}": s for i, s in enumerate(sequence_ids)}
        where = ("state = 'sent' AND photo_id IN (SELECT id FROM photo WHERE sequence_id IN ("
                 + ", ".join(f":{k}" for k in params) + "))")
        count = int(await db.fetch_val(f"SELECT COUNT(*) FROM interop_outbox WHERE {where}", params))
        await db.execute(
            f"UPDATE interop_outbox SET state = 'pending', attempts = 0, next_attempt_at = :t, last_error = NULL, "
            f"sent_at = NULL WHERE {where}", {**params, "t": now_iso("microseconds")})
        return count

    async def _run(self) -> None:
        while True:
            try:
                if self.services.leader.is_leader:  # one process delivers (cluster.py)
                    await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("interop outbox round failed; retrying")
            timeout = await self._seconds_to_next()
            await wait_event(self._wake, timeout)
            self._wake.clear()

    async def _seconds_to_next(self) -> float:
        nxt = await self.store.fetch_val(
            "SELECT MIN(next_attempt_at) FROM interop_outbox WHERE state = 'pending'")
        if not nxt:
            return IDLE_SECONDS
        due = datetime.strptime(nxt, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        return min(IDLE_SECONDS, max(0.05, (due - utc_now()).total_seconds()))

    async def deliver_due(self) -> int:
        """Deliver every due row, oldest first; a target that is down is left until its backoff ends."""
        sent, down = 0, set()
        while True:
            rows = [r for r in await self.store.fetch_all(
                "SELECT photo_id, target, attempts FROM interop_outbox WHERE state = 'pending' "
                "AND next_attempt_at <= :now ORDER BY created_at, photo_id, target LIMIT 40", {"now": now_iso("microseconds")})
                if r["target"] not in down]
            if not rows:
                return sent
            for row in rows:
                if row["target"] in down:
                    continue
                outcome = await self._deliver(row["photo_id"], row["target"], int(row["attempts"]))
                if outcome == "sent":
                    sent += 1
                elif outcome == "retry":
                    down.add(row["target"])  # down or busy: its backoff decides when to come back

    async def _context(self, photo_id: str, target: str) -> Mapping[str, Any] | None:
        return await self.store.fetch_one(
            "SELECT p.*, s.form, si.patient_id AS index_patient_id, si.state AS identity_state, o.sent_patient_id "
            "FROM photo p JOIN sequence s ON s.id = p.sequence_id "
            "LEFT JOIN sequence_identity si ON si.sequence_id = s.id "
            "LEFT JOIN interop_outbox o ON o.photo_id = p.id AND o.target = :t WHERE p.id = :p",
            {"p": photo_id, "t": target})

    async def _deliver(self, photo_id: str, target: str, attempts: int) -> str:
        row = await self._context(photo_id, target)
        if row is None or row["state"] != "verified" or row["identity_state"] != "reconciled":
            return await self._finish(photo_id, target, None, "skipped", "photo is not verified or not reconciled",
                                      MINOR_FAILURE)
        result: stow.Delivery | str
        if target == FHIR:
            result = await self._push(row)
        else:
            result = await self._stow(row, photo_id)
        if isinstance(result, str):
            return await self._finish(photo_id, target, row["index_patient_id"], "skipped", result, MINOR_FAILURE)
        if result.ok:
            return await self._finish(photo_id, target, row["index_patient_id"], "sent", result.reason, SUCCESS)
        if not result.retry:
            return await self._finish(photo_id, target, row["index_patient_id"], "failed", result.reason,
                                      SERIOUS_FAILURE)
        delay = min(self.settings.outbox_retry_seconds * 2 ** attempts, self.settings.outbox_retry_max_seconds)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE interop_outbox SET attempts = attempts + 1, next_attempt_at = :n, last_error = :e "
                "WHERE photo_id = :p AND target = :t",
                {"n": iso(utc_now() + timedelta(seconds=delay), "microseconds"), "e": result.reason,
                 "p": photo_id, "t": target})
            await append(db, AuditEvent(action=f"interop.{target}.store", outcome=SERIOUS_FAILURE,
                                        actor="system:outbox", patient_id=row["index_patient_id"],
                                        object=f"photo/{photo_id}",
                                        detail={"attempt": attempts + 1, "error": result.reason,
                                                "retry_in_seconds": delay}))
        return "retry"

    async def _push(self, row: Mapping[str, Any]) -> stow.Delivery:
        system = self.settings.patient_id_system
        version = fhir.R5 if self.settings.fhir_r5 else fhir.R4
        patient_id = self.store.fields.open_pid(row["index_patient_id"])  # stored sealed; the record names it
        resource = fhir.photo_resource(version, row, open_form(self.services.keys, row["sequence_id"], row["form"]),
                                       patient_id, system=system, wado_base=self.settings.dicomweb_url)
        bundle = fhir.transaction(resource, patient_id, system, version)
        assert self._client is not None
        return await push.post_transaction(self._client, self.settings.fhir_push_url, bundle,
                                           self.settings.fhir_push_token)

    async def _stow(self, row: Mapping[str, Any], photo_id: str) -> stow.Delivery | str:
        """The PACS delivery, or why the photo cannot go there (a string)."""
        fields = self.store.fields
        patient_id = fields.open_pid(row["index_patient_id"])  # stored sealed; the PACS gets the identifier
        indexed = await self.store.fetch_one("SELECT * FROM patient_index WHERE id = :id",
                                             {"id": row["index_patient_id"]})
        patient = open_patient(fields, indexed) if indexed is not None else {"id": patient_id}
        form = open_form(self.services.keys, row["sequence_id"], row["form"])
        number = 1 + int(await self.store.fetch_val(
            "SELECT COUNT(*) FROM photo WHERE sequence_id = :s AND (captured_at < :c OR (captured_at = :c AND id < :id))",
            {"s": row["sequence_id"], "c": row["captured_at"], "id": photo_id}))
        try:
            original = await asyncio.to_thread(self.services.objects.get, row["storage_key"], self.services.keys.keks)
            instance = dicom.build(original, photo=row, form=form, patient=patient,
                                   instance_number=number, issuer=self.settings.patient_id_system)
        except dicom.NotEncapsulable as exc:
            return str(exc)
        del original
        assert self._client is not None
        moved = row["sent_patient_id"] and row["sent_patient_id"] != row["index_patient_id"]
        if row["sent_patient_id"] == row["index_patient_id"] and self.settings.orthanc_url:
            # new demographics under the same Patient ID: Orthanc keeps a stored instance (same UIDs) as it
            # was, so its old copy goes first and the updated one takes its place
            removed = await orthanc.remove(self._client, self.settings.orthanc_url, instance_uid(photo_id),
                                           self.settings.dicomweb_token)
            if not removed.ok:
                return removed
        stored = await stow.store(self._client, self.settings.dicomweb_url, instance, self.settings.dicomweb_token)
        if not stored.ok or not moved or not self.settings.orthanc_url:
            return stored
        return await orthanc.withdraw_others(self._client, self.settings.orthanc_url, instance_uid(photo_id),
                                             patient_id, self.settings.dicomweb_token)

    async def _finish(self, photo_id: str, target: str, patient_id: str | None, state: str, reason: str,
                      outcome: str) -> str:
        async with self.store.write() as db:
            sent = state == "sent"
            if sent and await db.fetch_val(
                    "SELECT si.patient_id FROM photo p JOIN sequence_identity si ON si.sequence_id = p.sequence_id "
                    "WHERE p.id = :p AND si.state = 'reconciled'", {"p": photo_id}) != patient_id:
                state, reason = "pending", "moved to another identity while in flight; delivering again"
            await db.execute(
                "UPDATE interop_outbox SET state = :s, attempts = attempts + 1, last_error = :e, sent_at = :t, "
                "next_attempt_at = :n, sent_patient_id = CASE WHEN :sent = 1 THEN :pid ELSE sent_patient_id END "
                "WHERE photo_id = :p AND target = :target",
                {"s": state, "e": None if state == "sent" else reason, "t": now_iso("microseconds") if state == "sent" else None,
                 "n": now_iso("microseconds"), "sent": 1 if sent else 0, "pid": patient_id, "p": photo_id, "target": target})
            await append(db, AuditEvent(action=f"interop.{target}.store", outcome=outcome, actor="system:outbox",
                                        patient_id=patient_id, object=f"photo/{photo_id}",
                                        detail={"state": state, "reason": reason}))
        return state

    async def status(self) -> dict[str, Any]:
        counts = {r["state"]: int(r["n"]) for r in await self.store.fetch_all(
            "SELECT state, COUNT(*) AS n FROM interop_outbox GROUP BY state")}
        rows = await self.store.fetch_all(
            "SELECT photo_id, target, state, attempts, next_attempt_at, last_error, created_at, sent_at "
            "FROM interop_outbox WHERE state <> 'sent' ORDER BY created_at LIMIT 500")
        return {"enabled": self.enabled, "counts": counts, "unsent": rows}
