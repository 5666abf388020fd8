"""The hospital patient index and the reconciliation of each sequence's patient against it.

Identities come from the hospital (HL7 v2 ADT, CSV import), never from a phone. The sealed form
carries the patient identifier only (``patient_id`` in ``schemas/sequence.schema.json``: no name,
birth date or assigning authority), so the consistency that can be checked is the identifier's
against the index. A sequence is filed under an index identity only when its identifier points to
exactly one patient, active, not merged away. Otherwise it waits in quarantine, with a reason:

- ``unknown``: no identity in the index holds the identifier;
- ``merged``: the identifier was merged away (HL7 A40) into another; a phone still using it works
  from stale data, so a person confirms (the survivor is proposed as the candidate);
- ``inactive``: the hospital withdrew the identity (HL7 A29, CSV ``active`` 0);
- ``ambiguous``: two different patients hold the identifier, usually under two assigning
  authorities (one site's IPP is another site's, or another patient's secondary identifier);
- ``merge target unknown``, ``merge cycle``: the index's merge links are broken.

Sequences already filed follow a merge to the survivor; a quarantined one is released as soon as
the index makes its identifier resolve cleanly; an authorised user decides the rest. Every
decision is audited with the patient id; nothing here logs identities.

Every identifier is stored sealed (``storage/fields.py``): the functions here take an identifier
in clear or as stored (sealing is idempotent) and work on the stored form; what they return names
patients by their stored form (``Resolution``, ``reconcile``), which callers open to show.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date
from typing import Any, Iterable, Mapping

from ..audit.log import MINOR_FAILURE, SUCCESS, AuditEvent, append
from ..db import Db, Writer
from ..clock import now_iso
from ..storage.fields import open_patient, seal_patient

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")  # sequence.schema.json patient_id; a valid FHIR id
AUTHORITY_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
BIRTH_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")  # the precision the source gives (FHIR date)
SEXES = frozenset({"M", "F", "O", "U", "A", "N"})  # HL7 table 0001: A ambiguous, N not applicable
RECONCILED = "reconciled"
QUARANTINED = "quarantined"
REJECTED = "rejected"


class IdentityError(ValueError):
    """A patient identity that cannot enter the index (bad identifier, merge into itself...)."""


class InactiveIdentity(IdentityError):
    """The identity exists but the hospital withdrew it: nothing may be filed under it."""


def real_date(value: str) -> bool:
    if not BIRTH_DATE_RE.match(value):
        return False
    parts = [int(p) for p in value.split("-")] + [1, 1]
    try:
        date(parts[0], parts[1], parts[2])
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Patient:
    id: str
    family: str | None = None
    given: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD, or YYYY-MM, YYYY when the source knows no more
    sex: str | None = None  # HL7 table 0001: M, F, O, U, A, N
    authority: str | None = None  # assigning authority of ``id`` (HL7 CX-4), when the source gives it
    active: bool = True
    # the hospital's other identifiers for this patient, (value, authority or ''); None: the source
    # gives no list (CSV), so the index keeps the ones it has
    other_ids: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if not ID_RE.match(self.id or ""):
            raise IdentityError("patient identifier is not 3-32 letters, digits or hyphens")
        if self.birth_date and not real_date(self.birth_date):
            raise IdentityError("birth date is not a real date (YYYY-MM-DD, YYYY-MM or YYYY)")
        if self.sex is not None and self.sex not in SEXES:
            raise IdentityError("sex is not one of M, F, O, U, A, N")
        if self.authority is not None and not AUTHORITY_RE.match(self.authority):
            raise IdentityError("assigning authority is not 1-64 printable characters")
        for value, authority in self.other_ids or ():
            if not ID_RE.match(value) or (authority and not AUTHORITY_RE.match(authority)):
                raise IdentityError("another identifier of the patient is malformed")


@dataclasses.dataclass(frozen=True)
class Resolution:
    """What the index says about a claimed identifier: the identity to file under, or why not."""

    patient_id: str | None
    reason: str | None
    candidates: tuple[str, ...] = ()  # index identities a person may choose from (survivor, or the ambiguous ones)



def _in(prefix: str, values: Iterable[str]) -> tuple[str, dict[str, str]]:
    """``:p0, :p1...`` and their values, for an ``IN (...)`` list."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params) or "NULL", params


async def _identifier_values(db: Writer, patient_id: str) -> set[str]:
    rows = await db.fetch_all("SELECT value FROM patient_identifier WHERE patient_id = :p", {"p": patient_id})
    return {r["value"] for r in rows}


async def _set_identifiers(db: Writer, patient: Patient, authority: str) -> None:
    """The patient's identifiers: its index identifier, and the other ones when the source lists them."""
    stored = db.fields.pid(patient.id)
    if patient.other_ids is None:
        await db.execute("DELETE FROM patient_identifier WHERE patient_id = :p AND value = :v",
                         {"p": stored, "v": stored})
        wanted = {(stored, authority)}
    else:
        await db.execute("DELETE FROM patient_identifier WHERE patient_id = :p", {"p": stored})
        wanted = {(stored, authority), *((db.fields.pid(v), a or "") for v, a in patient.other_ids)}
    for value, auth in sorted(wanted):
        await db.execute("INSERT INTO patient_identifier (value, authority, patient_id) VALUES (:v, :a, :p)",
                         {"v": value, "a": auth, "p": stored})


async def record_visit(db: Writer, patient_id: str, visit: Any, trigger: str, actor: str) -> None:
    """Keep the patient's current stay (``hl7v2.Visit``): where, since when, or that it ended; audited."""
    patient_id = db.fields.pid(patient_id)
    now = now_iso()
    if visit.ended:
        await db.execute("UPDATE patient_visit SET ended_at = :t, updated_at = :t WHERE patient_id = :p "
                         "AND ended_at IS NULL", {"t": now, "p": patient_id})
    else:
        await db.execute(
            "INSERT INTO patient_visit (patient_id, department, admitted_on, ended_at, updated_at) "
            "VALUES (:p, :d, :a, NULL, :t) ON CONFLICT (patient_id) DO UPDATE SET department = :d, "
            "admitted_on = COALESCE(:a, patient_visit.admitted_on), ended_at = NULL, updated_at = :t",
            {"p": patient_id, "d": visit.department, "a": visit.admitted_on, "t": now})
    await append(db, AuditEvent(action="patient.visit", actor=actor, patient_id=patient_id,
                                detail={"trigger": trigger, "department": visit.department,
                                        "ended": visit.ended}))


async def today(store: Db, department: str, day: str) -> list[dict[str, Any]]:
    """The patients of a department on ``day`` (YYYY-MM-DD): a stay there that is open (admitted that day
    or before) or ended that day; merged identities left out. Name order."""
    rows = await store.fetch_all(
        "SELECT i.id, i.family, i.given, i.birth_date, i.sex FROM patient_visit v "
        "JOIN patient_index i ON i.id = v.patient_id WHERE v.department = :d AND i.merged_into IS NULL AND i.active = 1 "
        "AND (v.admitted_on IS NULL OR v.admitted_on <= :day) AND (v.ended_at IS NULL OR v.ended_at >= :day)",
        {"d": department, "day": day})
    patients = [open_patient(store.fields, r) for r in rows]
    return sorted(patients, key=lambda p: (p["family"] or "", p["given"] or "", p["id"]))


async def upsert(db: Writer, patient: Patient, *, source: str, actor: str) -> list[str]:
    """Add or update one identity (inside a write); returns sequences this releases from quarantine."""
    fields = db.fields
    stored = fields.pid(patient.id)
    existing = await db.fetch_one("SELECT id, authority, active FROM patient_index WHERE id = :id", {"id": stored})
    if existing is not None and existing["authority"] and patient.authority \
            and existing["authority"] != patient.authority:
        # the same identifier from another authority is another patient: never overwrite this one
        raise IdentityError("this identifier is already indexed under another assigning authority")
    before = await _identifier_values(db, stored)
    values = {**dataclasses.asdict(patient), "active": 1 if patient.active else 0, "source": source, "t": now_iso()}
    del values["other_ids"]
    values.update(seal_patient(fields, stored, values), id=stored)
    if existing is None:
        await db.execute(
            "INSERT INTO patient_index (id, family, given, birth_date, sex, merged_into, source, updated_at, "
            "authority, active) VALUES (:id, :family, :given, :birth_date, :sex, NULL, :source, :t, :authority, "
            ":active)", values)
    else:
        await db.execute(
            "UPDATE patient_index SET family = :family, given = :given, birth_date = :birth_date, sex = :sex, "
            "source = :source, updated_at = :t, authority = COALESCE(:authority, authority), active = :active "
            "WHERE id = :id", values)
    authority = patient.authority or (existing["authority"] if existing is not None else None) or ""
    await _set_identifiers(db, patient, authority)
    await db.execute("DELETE FROM patient_search WHERE patient_id = :p", {"p": stored})
    for token in sorted(fields.search_tokens(patient.family, patient.given, patient.birth_date)):
        await db.execute("INSERT INTO patient_search (token, patient_id) VALUES (:k, :p)", {"k": token, "p": stored})
    was_active = existing is None or bool(existing["active"])
    action = ("patient.index.deactivate" if was_active and not patient.active
              else "patient.index.update" if existing is not None else "patient.index.add")
    await append(db, AuditEvent(action=action, actor=actor, patient_id=patient.id,
                                detail={"source": source, "active": patient.active}))
    return await _recheck(db, before | await _identifier_values(db, stored), actor)


async def merge(db: Writer, prior_id: str, survivor: Patient, *, source: str, actor: str) -> tuple[list[str], list[str]]:
    """Merge ``prior_id`` into ``survivor`` (HL7 A40): the sequences filed under it move to the survivor.

    Returns (sequences moved, sequences released from quarantine by the survivor's update).
    """
    if prior_id == survivor.id:
        raise IdentityError("a patient cannot be merged into itself")
    Patient(prior_id)  # validates the identifier
    released = await upsert(db, survivor, source=source, actor=actor)
    prior_id, survivor_id = db.fields.pid(prior_id), db.fields.pid(survivor.id)
    t = now_iso()
    if await db.fetch_one("SELECT id FROM patient_index WHERE id = :id", {"id": prior_id}) is None:
        await db.execute(
            "INSERT INTO patient_index (id, merged_into, source, updated_at, active) VALUES (:id, :s, :src, :t, 1)",
            {"id": prior_id, "s": survivor_id, "src": source, "t": t})
        await db.execute("INSERT INTO patient_identifier (value, authority, patient_id) VALUES (:v, '', :v)",
                         {"v": prior_id})
    else:
        await db.execute("UPDATE patient_index SET merged_into = :s, updated_at = :t WHERE id = :id",
                         {"s": survivor_id, "t": t, "id": prior_id})
    # identities merged earlier into the prior one follow it to the survivor
    await db.execute("UPDATE patient_index SET merged_into = :s, updated_at = :t WHERE merged_into = :p",
                     {"s": survivor_id, "t": t, "p": prior_id})
    moved = [r["sequence_id"] for r in await db.fetch_all(
        "SELECT sequence_id FROM sequence_identity WHERE patient_id = :p AND state = :r ORDER BY sequence_id",
        {"p": prior_id, "r": RECONCILED})]
    await db.execute(
        "UPDATE sequence_identity SET patient_id = :s, decided_by = :a, decided_at = :t, reason = :why "
        "WHERE patient_id = :p AND state = :r",
        {"s": survivor_id, "a": actor, "t": t, "p": prior_id, "r": RECONCILED, "why": "merged"})
    await append(db, AuditEvent(action="patient.index.merge", actor=actor, patient_id=survivor_id,
                                detail={"prior_patient_id": prior_id, "sequences_moved": len(moved),
                                        "source": source}))
    for sequence_id in moved:
        await append(db, AuditEvent(action="sequence.identity.move", actor=actor, patient_id=survivor_id,
                                    object=f"sequence/{sequence_id}", detail={"from_patient_id": prior_id}))
    # sequences waiting on the prior identifier now wait as "merged": a person confirms the survivor
    released += await _recheck(db, await _identifier_values(db, prior_id) | {prior_id}, actor)
    return moved, released


async def _recheck(db: Writer, claimed_ids: Iterable[str], actor: str) -> list[str]:
    """Resolve again the quarantined sequences claiming these identifiers; returns those released."""
    marks, values = _in("c", sorted(set(db.fields.pids(claimed_ids))))
    rows = await db.fetch_all(
        f"SELECT sequence_id, claimed_id, reason FROM sequence_identity WHERE state = :q AND claimed_id IN ({marks}) "
        "ORDER BY sequence_id", {"q": QUARANTINED, **values})
    released = []
    for row in rows:
        resolution = await resolve_identity(db, row["claimed_id"])
        if resolution.patient_id is not None:
            await _decide(db, row["sequence_id"], row["claimed_id"], resolution.patient_id, RECONCILED,
                          "identity arrived in the index", actor)
            released.append(row["sequence_id"])
        elif resolution.reason != row["reason"]:
            await _decide(db, row["sequence_id"], row["claimed_id"], None, QUARANTINED, resolution.reason, actor)
    return released


async def _decide(db: Writer, sequence_id: str, claimed_id: str, patient_id: str | None, state: str,
                  reason: str | None, actor: str) -> None:
    await db.execute("DELETE FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})
    await db.execute(
        "INSERT INTO sequence_identity (sequence_id, claimed_id, patient_id, state, reason, decided_by, decided_at) "
        "VALUES (:s, :c, :p, :state, :reason, :a, :t)",
        {"s": sequence_id, "c": db.fields.pid(claimed_id), "p": db.fields.pid(patient_id), "state": state,
         "reason": reason, "a": actor, "t": now_iso()})
    action = {RECONCILED: "sequence.identity.reconcile", QUARANTINED: "sequence.identity.quarantine",
              REJECTED: "sequence.identity.reject"}[state]
    await append(db, AuditEvent(action=action, outcome=SUCCESS if state == RECONCILED else MINOR_FAILURE,
                                actor=actor, patient_id=patient_id or claimed_id, object=f"sequence/{sequence_id}",
                                detail={"claimed_patient_id": claimed_id, "reason": reason}))


async def survivor_of(db: Db | Writer, patient_id: str) -> tuple[str | None, str | None]:
    """(the identity ``patient_id`` ends at after following merges, None) or (None, what is broken)."""
    patient_id = db.fields.pid(patient_id)
    seen: set[str] = set()
    current = patient_id
    while True:
        row = await db.fetch_one("SELECT id, merged_into FROM patient_index WHERE id = :id", {"id": current})
        if row is None:
            return None, "unknown" if current == patient_id else "merge target unknown"
        if not row["merged_into"]:
            return current, None
        if current in seen:
            return None, "merge cycle"
        seen.add(current)
        current = row["merged_into"]


async def resolve_identity(db: Db | Writer, claimed_id: str) -> Resolution:
    """The index identity a claimed identifier files under, or why a person must decide (see module doc)."""
    claimed_id = db.fields.pid(claimed_id)
    holders = {r["id"] for r in await db.fetch_all("SELECT id FROM patient_index WHERE id = :c", {"c": claimed_id})}
    holders |= {r["patient_id"] for r in await db.fetch_all(
        "SELECT patient_id FROM patient_identifier WHERE value = :c", {"c": claimed_id})}
    if not holders:
        return Resolution(None, "unknown")
    survivors: set[str] = set()
    for holder in sorted(holders):
        survivor, problem = await survivor_of(db, holder)
        if survivor is None:
            return Resolution(None, problem)
        survivors.add(survivor)
    if len(survivors) > 1:
        return Resolution(None, "ambiguous", tuple(sorted(survivors)))
    survivor = survivors.pop()
    direct = await db.fetch_one("SELECT merged_into FROM patient_index WHERE id = :c", {"c": claimed_id})
    if (direct is not None and direct["merged_into"]) or survivor not in holders:
        return Resolution(None, "merged", (survivor,))
    row = await db.fetch_one("SELECT active FROM patient_index WHERE id = :id", {"id": survivor})
    if row is None or not row["active"]:
        return Resolution(None, "inactive", (survivor,))
    return Resolution(survivor, None, (survivor,))


async def reconcile(store: Db, sequence_id: str, actor: str = "system:reconcile") -> Mapping[str, Any] | None:
    """The sequence's identity row (its identifiers opened), deciding it first if this sequence was never
    reconciled."""
    row = await _reconcile(store, sequence_id, actor)
    if row is None:
        return None
    return {**row, "claimed_id": store.fields.open_pid(row["claimed_id"]), "patient_id": store.fields.open_pid(row["patient_id"])}


async def _reconcile(store: Db, sequence_id: str, actor: str) -> Mapping[str, Any] | None:
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
        resolution = await resolve_identity(db, claimed)
        if resolution.patient_id is None:
            await _decide(db, sequence_id, claimed, None, QUARANTINED, resolution.reason, actor)
        else:
            why = None if resolution.patient_id == claimed else "other identifier"
            await _decide(db, sequence_id, claimed, resolution.patient_id, RECONCILED, why, actor)
    return await store.fetch_one("SELECT * FROM sequence_identity WHERE sequence_id = :s", {"s": sequence_id})


async def quarantine(store: Db, limit: int = 500) -> list[dict[str, Any]]:
    """Sequences waiting in quarantine, oldest first, each with what the index proposes now."""
    rows = await store.fetch_all(
        "SELECT si.sequence_id, si.claimed_id, si.reason, si.decided_at, s.device_id, s.created_at, "
        "(SELECT COUNT(*) FROM photo p WHERE p.sequence_id = si.sequence_id) AS photos "
        "FROM sequence_identity si JOIN sequence s ON s.id = si.sequence_id WHERE si.state = :q "
        "ORDER BY si.decided_at, si.sequence_id LIMIT :n", {"q": QUARANTINED, "n": limit})
    for row in rows:
        row["photos"] = int(row["photos"])
        row["candidates"] = sorted(store.fields.open_pid(c)
                                   for c in (await resolve_identity(store, row["claimed_id"])).candidates)
        row["claimed_id"] = store.fields.open_pid(row["claimed_id"])
    return rows


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
        resolved, _ = await survivor_of(db, db.fields.pid(patient_id))
        if resolved is None:
            raise IdentityError("this patient is not in the index")
        if not (await db.fetch_one("SELECT active FROM patient_index WHERE id = :id", {"id": resolved}))["active"]:
            raise InactiveIdentity("this patient identity is inactive in the index")
        await _decide(db, sequence_id, row["claimed_id"], resolved, RECONCILED, "resolved by a user", actor)
        return RECONCILED


CSV_COLUMNS = ("id", "family", "given", "birth_date", "sex", "authority")
_FALSE, _TRUE = frozenset({"0", "false", "no", "n"}), frozenset({"", "1", "true", "yes", "y"})


def parse_csv(text: str) -> Iterable[Patient]:
    """Rows of a CSV with a header naming at least ``id`` (and any of family, given, birth_date, sex,
    authority, active)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise IdentityError("the CSV needs a header row with an 'id' column")
    for line, row in enumerate(reader, start=2):
        active = (row.get("active") or "").strip().lower()
        try:
            if active not in _TRUE | _FALSE:
                raise IdentityError("active is not 1 or 0")
            yield Patient(**{k: (row.get(k) or "").strip() or None for k in CSV_COLUMNS},  # type: ignore[arg-type]
                          active=active in _TRUE)
        except IdentityError as exc:
            raise IdentityError(f"line {line}: {exc}") from None


async def import_csv(store: Db, text: str, actor: str = "cli:admin") -> tuple[int, list[str]]:
    """(patients imported, sequences released from quarantine); all rows or none."""
    patients = list(parse_csv(text))
    released: list[str] = []
    async with store.write() as db:
        for line, patient in enumerate(patients, start=2):
            try:
                released += await upsert(db, patient, source="csv", actor=actor)
            except IdentityError as exc:
                raise IdentityError(f"line {line}: {exc}") from None
    return len(patients), released
