"""The hospital patient index and the reconciliation of each sequence's patient against it.

Identities come from the hospital (HL7 v2 ADT, CSV import), never from a phone. A sequence is
filed under an index identity only when the identifier the device sent is in the index (a merged
identifier resolves to its survivor); otherwise it waits in quarantine until an authorised user
resolves it. Every decision is audited with the patient id; nothing here logs identities.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..audit.log import MINOR_FAILURE, SUCCESS, AuditEvent, append
from ..db import Db

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")  # sequence.schema.json patient_id; a valid FHIR id
RECONCILED = "reconciled"
QUARANTINED = "quarantined"
REJECTED = "rejected"


class IdentityError(ValueError):
    """A patient identity that cannot enter the index (bad identifier, merge into itself...)."""


@dataclasses.dataclass(frozen=True)
class Patient:
    id: str
    family: str | None = None
    given: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD
    sex: str | None = None  # M, F, O, U

    def __post_init__(self) -> None:
        if not ID_RE.match(self.id or ""):
            raise IdentityError("patient identifier is not 3-32 letters, digits or hyphens")
        if self.birth_date and not re.match(r"^\d{4}-\d{2}-\d{2}$", self.birth_date):
            raise IdentityError("birth date is not YYYY-MM-DD")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


async def upsert(db: Any, patient: Patient, *, source: str, actor: str) -> list[str]:
    """Add or update one identity (inside a write); returns sequences this releases from quarantine."""
    existing = await db.fetch_one("SELECT id FROM patient_index WHERE id = :id", {"id": patient.id})
    values = {**dataclasses.asdict(patient), "source": source, "t": now()}
    if existing is None:
        await db.execute(
            "INSERT INTO patient_index (id, family, given, birth_date, sex, merged_into, source, updated_at) "
            "VALUES (:id, :family, :given, :birth_date, :sex, NULL, :source, :t)", values)
    else:
        await db.execute(
            "UPDATE patient_index SET family = :family, given = :given, birth_date = :birth_date, sex = :sex, "
            "source = :source, updated_at = :t WHERE id = :id", values)
    await append(db, AuditEvent(action="patient.index.update" if existing else "patient.index.add", actor=actor,
                                patient_id=patient.id, detail={"source": source}))
    return await _release(db, patient.id, patient.id, actor, "identity arrived in the index")


async def merge(db: Any, prior_id: str, survivor: Patient, *, source: str, actor: str) -> list[str]:
    """Merge ``prior_id`` into ``survivor`` (HL7 A40): its sequences move to the survivor.

    Returns every sequence whose filed identity changed or that left quarantine.
    """
    if prior_id == survivor.id:
        raise IdentityError("a patient cannot be merged into itself")
    Patient(prior_id)  # validates the identifier
    released = await upsert(db, survivor, source=source, actor=actor)
    t = now()
    if await db.fetch_one("SELECT id FROM patient_index WHERE id = :id", {"id": prior_id}) is None:
        await db.execute(
            "INSERT INTO patient_index (id, merged_into, source, updated_at) VALUES (:id, :s, :src, :t)",
            {"id": prior_id, "s": survivor.id, "src": source, "t": t})
    else:
        await db.execute("UPDATE patient_index SET merged_into = :s, updated_at = :t WHERE id = :id",
                         {"s": survivor.id, "t": t, "id": prior_id})
    # identities merged earlier into the prior one follow it to the survivor
    await db.execute("UPDATE patient_index SET merged_into = :s, updated_at = :t WHERE merged_into = :p",
                     {"s": survivor.id, "t": t, "p": prior_id})
    moved = [r["sequence_id"] for r in await db.fetch_all(
        "SELECT sequence_id FROM sequence_identity WHERE patient_id = :p AND state = :r",
        {"p": prior_id, "r": RECONCILED})]
    await db.execute(
        "UPDATE sequence_identity SET patient_id = :s, decided_by = :a, decided_at = :t, reason = :why "
        "WHERE patient_id = :p AND state = :r",
        {"s": survivor.id, "a": actor, "t": t, "p": prior_id, "r": RECONCILED, "why": "merged"})
    await append(db, AuditEvent(action="patient.index.merge", actor=actor, patient_id=survivor.id,
                                detail={"prior_patient_id": prior_id, "sequences_moved": len(moved),
                                        "source": source}))
    for sequence_id in moved:
        await append(db, AuditEvent(action="sequence.identity.move", actor=actor, patient_id=survivor.id,
                                    object=f"sequence/{sequence_id}", detail={"from_patient_id": prior_id}))
    released += await _release(db, prior_id, survivor.id, actor, "identity merged into the survivor")
    return moved + released


async def _release(db: Any, claimed_id: str, patient_id: str, actor: str, why: str) -> list[str]:
    rows = await db.fetch_all(
        "SELECT sequence_id FROM sequence_identity WHERE claimed_id = :c AND state = :q",
        {"c": claimed_id, "q": QUARANTINED})
    for row in rows:
        await _decide(db, row["sequence_id"], claimed_id, patient_id, RECONCILED, why, actor)
    return [r["sequence_id"] for r in rows]


async def _decide(db: Any, sequence_id: str, claimed_id: str, patient_id: str | None, state: str,
                  reason: str | None, actor: str) -> None:
    await db.execute("DELETE FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
    await db.execute(
        "INSERT INTO sequence_identity (sequence_id, claimed_id, patient_id, state, reason, decided_by, decided_at) "
        "VALUES (:s, :c, :p, :state, :reason, :a, :t)",
        {"s": sequence_id, "c": claimed_id, "p": patient_id, "state": state, "reason": reason, "a": actor,
         "t": now()})
    action = {RECONCILED: "sequence.identity.reconcile", QUARANTINED: "sequence.identity.quarantine",
              REJECTED: "sequence.identity.reject"}[state]
    await append(db, AuditEvent(action=action, outcome=SUCCESS if state == RECONCILED else MINOR_FAILURE,
                                actor=actor, patient_id=patient_id or claimed_id, object=f"sequence/{sequence_id}",
                                detail={"claimed_patient_id": claimed_id, "reason": reason}))


async def resolve_identity(db: Any, claimed_id: str) -> tuple[str | None, str | None]:
    """(index identity, None) for a known identifier, following merges; (None, reason) otherwise."""
    seen: set[str] = set()
    current = claimed_id
    while True:
        row = await db.fetch_one("SELECT id, merged_into FROM patient_index WHERE id = :id", {"id": current})
        if row is None:
            return None, "unknown" if current == claimed_id else "merge target unknown"
        if not row["merged_into"]:
            return current, None
        if current in seen:
            return None, "merge cycle"
        seen.add(current)
        current = row["merged_into"]


async def reconcile(store: Db, sequence_id: str, actor: str = "system:reconcile") -> Mapping[str, Any] | None:
    """The sequence's identity row, deciding it first if this sequence was never reconciled."""
    row = await store.fetch_one("SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
    if row is not None:
        return row
    async with store.write() as db:
        if await db.fetch_one("SELECT 1 FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id}):
            return await db.fetch_one("SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
        sequence = await db.fetch_one("SELECT patient_id FROM sequence WHERE id = :s", {"s": sequence_id})
        if sequence is None:
            return None
        claimed = sequence["patient_id"]
        patient_id, reason = await resolve_identity(db, claimed)
        if patient_id is None:
            await _decide(db, sequence_id, claimed, None, QUARANTINED, reason, actor)
        else:
            why = None if patient_id == claimed else "merged"
            await _decide(db, sequence_id, claimed, patient_id, RECONCILED, why, actor)
    return await store.fetch_one("SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})


async def decide(store: Db, sequence_id: str, *, patient_id: str | None, actor: str) -> str:
    """An authorised user's decision on a quarantined sequence: file it under ``patient_id`` or reject it."""
    async with store.write() as db:
        row = await db.fetch_one("SELECT claimed_id, state FROM sequence_identity WHERE sequence_id = :s",
                                 {"s": sequence_id})
        if row is None or row["state"] != QUARANTINED:
            raise LookupError("not in quarantine")
        if patient_id is None:
            await _decide(db, sequence_id, row["claimed_id"], None, REJECTED, "rejected by a user", actor)
            return REJECTED
        resolved, _ = await resolve_identity(db, patient_id)
        if resolved is None:
            raise IdentityError("this patient is not in the index")
        await _decide(db, sequence_id, row["claimed_id"], resolved, RECONCILED, "resolved by a user", actor)
        return RECONCILED


CSV_COLUMNS = ("id", "family", "given", "birth_date", "sex")


def parse_csv(text: str) -> Iterable[Patient]:
    """Rows of a CSV with a header naming at least ``id`` (and any of family, given, birth_date, sex)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise IdentityError("the CSV needs a header row with an 'id' column")
    for line, row in enumerate(reader, start=2):
        try:
            yield Patient(**{k: (row.get(k) or "").strip() or None for k in CSV_COLUMNS})  # type: ignore[arg-type]
        except IdentityError as exc:
            raise IdentityError(f"line {line}: {exc}") from None


async def import_csv(store: Db, text: str, actor: str = "cli:admin") -> tuple[int, list[str]]:
    """(patients imported, sequences released from quarantine); all rows or none."""
    patients = list(parse_csv(text))
    released: list[str] = []
    async with store.write() as db:
        for patient in patients:
            released += await upsert(db, patient, source="csv", actor=actor)
    return len(patients), released
