"""Wires interop to the server: reconcile at sync, feed the outbox, listen for HL7; all off unless configured.

Registered in ``extensions.py``. When no interop setting is given, ``start`` returns a handle
that does nothing: no subscription, no task, no listener, no table writes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..events import BATCH_COMMITTED, PHOTO_VERIFIED
from ..storage.fields import open_patient
from . import hl7v2, patients
from .outbox import Outbox

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("clinphoto.interop")


class Interop:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.outbox = Outbox(services)
        self.mllp: asyncio.AbstractServer | None = None

    async def start(self) -> "Interop":
        if not self.settings.interop_enabled:
            return self
        events = self.services.events
        events.subscribe(PHOTO_VERIFIED, self.on_photo_verified)
        events.subscribe(BATCH_COMMITTED, self.on_batch_committed)
        await self.outbox.start()  # it delivers while this process leads
        # once per install, by the process that leads (cluster.py): one HL7 listener, one catch-up
        self.services.leader.on_elected(self.elected)
        self.services.leader.on_deposed(self.close_listener)
        return self

    async def elected(self) -> None:
        await self.catch_up()
        self.outbox.wake()
        if self.settings.hl7_mllp_port and self.mllp is None:
            self.mllp = await hl7v2.serve_mllp(self.settings.hl7_mllp_host, self.settings.hl7_mllp_port,
                                               self.apply_adt, self.settings.hl7_encoding)
            log.info("HL7 MLLP listener on %s:%d", self.settings.hl7_mllp_host, self.settings.hl7_mllp_port)

    async def close_listener(self) -> None:
        if self.mllp is not None:
            self.mllp.close()
            await self.mllp.wait_closed()
            self.mllp = None

    async def stop(self) -> None:
        await self.close_listener()
        await self.outbox.stop()

    async def catch_up(self) -> None:
        """After a restart: reconcile verified photos' sequences and queue what the events missed."""
        rows = await self.store.fetch_all(
            "SELECT DISTINCT p.sequence_id FROM photo p LEFT JOIN sequence_identity si ON si.sequence_id = p.sequence_id "
            "WHERE p.state = 'verified' AND si.sequence_id IS NULL")
        for row in rows:
            await patients.reconcile(self.store, row["sequence_id"])
        await self.queue_sequences(None)

    async def on_batch_committed(self, batch_id: str) -> None:
        rows = await self.store.fetch_all(
            "SELECT DISTINCT p.sequence_id FROM batch_photo bp JOIN photo p ON p.id = bp.photo_id "
            "WHERE bp.batch_id = :b", {"b": batch_id})
        for row in rows:
            await patients.reconcile(self.store, row["sequence_id"])
        await self.queue_sequences([r["sequence_id"] for r in rows])

    async def on_photo_verified(self, photo_id: str) -> None:
        sequence_id = await self.store.fetch_val("SELECT sequence_id FROM photo WHERE id = :p", {"p": photo_id})
        if sequence_id is None:
            return
        identity = await patients.reconcile(self.store, sequence_id)
        if identity is not None and identity["state"] == patients.RECONCILED:
            await self.outbox.enqueue([photo_id])

    async def queue_sequences(self, sequence_ids: list[str] | None) -> None:
        """Queue the verified photos of reconciled sequences (all of them when ``None``) not yet queued."""
        if not self.outbox.enabled:
            return
        query = ("SELECT p.id FROM photo p JOIN sequence_identity si ON si.sequence_id = p.sequence_id "
                 "WHERE p.state = 'verified' AND si.state = 'reconciled' "
                 "AND (SELECT COUNT(*) FROM interop_outbox o WHERE o.photo_id = p.id) < :n")
        n = len(self.outbox.targets)
        if sequence_ids is None:
            rows = await self.store.fetch_all(query, {"n": n})
        else:
            rows = []
            for sequence_id in sequence_ids:
                rows += await self.store.fetch_all(query + " AND p.sequence_id = :s", {"s": sequence_id, "n": n})
        await self.outbox.enqueue([r["id"] for r in rows])

    async def apply_adt(self, event: hl7v2.AdtEvent) -> None:
        if event.patient is None:
            return  # an ADT event that does not change identities
        actor = "hl7:adt"
        if event.trigger in hl7v2.VISIT_ONLY:  # a transfer, a discharge: the stay changes, not the identity
            if event.visit is not None:
                async with self.store.write() as db:
                    await patients.record_visit(db, event.patient.id, event.visit, event.trigger, actor)
            return
        moved: list[str] = []
        async with self.store.write() as db:
            if event.visit is not None:
                await patients.record_visit(db, event.patient.id, event.visit, event.trigger, actor)
            if event.trigger in hl7v2.CHANGES and event.prior_id is not None:
                # A47: the prior identifier was wrong; the new one must not be another patient's
                taken = await db.fetch_one("SELECT id FROM patient_index WHERE id = :id",
                                           {"id": db.fields.pid(event.patient.id)})
                if taken is not None:
                    raise patients.IdentityError("the new identifier already belongs to a patient of the index")
            if event.prior_id is not None:
                moved, changed = await patients.merge(db, event.prior_id, event.patient,
                                                      source=f"hl7:{event.trigger}", actor=actor)
                await self.outbox.follow(db, moved)  # same transaction: the copies cannot miss the move
            else:
                stored = db.fields.pid(event.patient.id)
                row = await db.fetch_one("SELECT id, family, given, birth_date, sex FROM patient_index WHERE id = :id",
                                         {"id": stored})
                before = None if row is None else {k: v for k, v in open_patient(db.fields, row).items() if k != "id"}
                changed = await patients.upsert(db, event.patient, source=f"hl7:{event.trigger}", actor=actor)
                if before is not None and before != {k: getattr(event.patient, k) for k in before}:
                    # new demographics (a name change after delivery): the copies already sent go again
                    filed = [r["sequence_id"] for r in await db.fetch_all(
                        "SELECT sequence_id FROM sequence_identity WHERE patient_id = :p AND state = 'reconciled'",
                        {"p": stored})]
                    await self.outbox.follow(db, filed)
        await self.queue_sequences(moved + changed)
        self.outbox.wake()

    async def decide(self, sequence_id: str, patient_id: str | None, actor: str) -> str:
        state = await patients.decide(self.store, sequence_id, patient_id=patient_id, actor=actor)
        await self.queue_sequences([sequence_id])
        return state


async def start(services: Services) -> Interop:
    return await Interop(services).start()


async def stop(interop: Interop) -> None:
    await interop.stop()
