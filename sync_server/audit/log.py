"""The audit trail: append-only entries, each chained to the one before by SHA-256.

``entry_hash = SHA-256(prev_hash || JCS(entry without its hashes))``; the first entry chains to
64 zeros. Editing, deleting, inserting or reordering any entry breaks every hash after it, which
``verify_chain`` (and ``clinphoto audit verify``) reports with the first bad sequence number.
Entries hold who, which device, what, on which patient, the outcome and the time; never image
bytes. Outcomes follow FHIR AuditEvent: 0 success, 4 minor failure (bad input), 8 serious
failure, 12 major failure.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from crypto import canonical_json

from ..db import Db

GENESIS = "0" * 64

SUCCESS = "0"
MINOR_FAILURE = "4"
SERIOUS_FAILURE = "8"
MAJOR_FAILURE = "12"


@dataclasses.dataclass(frozen=True)
class AuditEvent:
    action: str
    outcome: str = SUCCESS
    actor: str = "system"
    device_id: str | None = None
    patient_id: str | None = None
    object: str | None = None
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    address: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    body = {k: entry[k] for k in (
        "seq", "ts", "actor", "device_id", "action", "outcome", "patient_id", "object", "detail", "address"
    )}
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(body)).hexdigest()


async def append(db: Any, event: AuditEvent) -> int:
    """Append one entry inside the caller's write transaction (``async with Db.write() as db``).

    The first statement takes the head row's write lock, so appends from several processes
    (server, CLI) still form one chain.
    """
    await db.execute("UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
    head = await db.fetch_one("SELECT seq, entry_hash FROM audit_head WHERE id = 1")
    seq, prev = int(head["seq"]), head["entry_hash"]
    entry = {
        "seq": seq,
        "ts": _now(),
        "actor": event.actor,
        "device_id": event.device_id,
        "action": event.action,
        "outcome": event.outcome,
        "patient_id": event.patient_id,
        "object": event.object,
        "detail": dict(event.detail),
        "address": event.address,
    }
    digest = entry_hash(prev, entry)
    await db.execute(
        "INSERT INTO audit_entry (seq, ts, actor, device_id, action, outcome, patient_id, object, "
        "detail, address, prev_hash, entry_hash) VALUES (:seq, :ts, :actor, :device_id, :action, "
        ":outcome, :patient_id, :object, :detail, :address, :prev_hash, :entry_hash)",
        {**entry, "detail": json.dumps(entry["detail"], sort_keys=True), "prev_hash": prev, "entry_hash": digest},
    )
    await db.execute("UPDATE audit_head SET entry_hash = :h WHERE id = 1", {"h": digest})
    return seq


async def record(store: Db, event: AuditEvent) -> int:
    """Append one entry in a transaction of its own (for events with nothing else to write)."""
    async with store.write() as db:
        return await append(db, event)


@dataclasses.dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_rows(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None = None) -> ChainReport:
    """Check a chain of rows in sequence order; ``head`` (the audit_head row) catches truncation."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            return ChainReport(False, count, expected_seq, f"entry {expected_seq} is missing or out of order")
        entry = dict(row)
        entry["detail"] = json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"]
        if row["prev_hash"] != prev:
            return ChainReport(False, count, seq, "previous-hash link is broken")
        if entry_hash(prev, entry) != row["entry_hash"]:
            return ChainReport(False, count, seq, "entry content does not match its hash")
        prev = row["entry_hash"]
        expected_seq += 1
        count += 1
    if head is not None and (int(head["seq"]) != count or head["entry_hash"] != prev):
        return ChainReport(False, count, count + 1, "entries after the last one found were removed")
    return ChainReport(True, count)


async def verify_chain(store: Db) -> ChainReport:
    head = await store.fetch_one("SELECT seq, entry_hash FROM audit_head WHERE id = 1")
    rows = await store.fetch_all("SELECT * FROM audit_entry ORDER BY seq")
    return verify_rows(rows, head)
