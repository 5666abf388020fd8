"""The audit trail: append-only entries, each chained to the one before by SHA-256.

``entry_hash = SHA-256(prev_hash || leaf)`` where ``leaf = JCS(entry without its hashes)``
(:func:`leaf_bytes`); the first entry chains to 64 zeros. The same leaf bytes are the leaves of
an RFC 9162 Merkle tree (``merkle.py``) kept beside the chain: each append stores the nodes it
completes and the tree's right edge in ``audit_head``, so appends never recompute the tree. Editing, deleting, inserting or reordering any entry breaks every hash after it, which
``verify_chain`` (and ``clinphoto audit verify``) reports with the first bad sequence number.
Entries hold who, which device, what, on which patient, the outcome and the time; never image
bytes. The leaf holds the patient identifier in clear; the database keeps it sealed
(``storage/fields.py``): the entry's ``patient_id``, a ``patient:<id>`` object, and the detail's
``*patient_id`` values and ``patients`` list. ``stored_row`` and ``open_entry`` go between the two,
so the chain is verified on opened entries and an export reads as it always did. Outcomes follow FHIR AuditEvent: 0 success, 4 minor failure (bad input), 8 serious
failure, 12 major failure.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from crypto import CryptoError, canonical_json

from ..declare import check_action
from ..db import Db, GroupCommitError, Writer
from .merkle import Frontier, leaf_hash
from ..clock import now_iso

if TYPE_CHECKING:
    from ..storage.fields import PatientFields

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



ENTRY_FIELDS = ("seq", "ts", "actor", "device_id", "action", "outcome", "patient_id", "object", "detail", "address")


def _plain(value: Any) -> bool:
    """True when ``json.dumps`` already writes ``value`` as RFC 8785 would (no floats, no
    astral-plane keys whose UTF-16 order differs from code point order, safe integers)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -_SAFE < value < _SAFE
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < "\U00010000"):
                return False
            if not (type(item) is str or item is None or _plain(item)):
                return False
        return True
    if kind is list:
        return all(_plain(item) for item in value)
    return False


_SAFE = 2**53


def jcs(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of ``value``: the C JSON encoder when it provably agrees, else ``crypto``'s."""
    if _plain(value):
        try:
            return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # a lone surrogate: canonical_json refuses it with the right error
            pass
    return canonical_json(value)


def _patient_detail(detail: Mapping[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    out = dict(detail)
    for key, value in detail.items():
        if key.endswith("patient_id") and isinstance(value, str):
            out[key] = change(value)
        elif key == "patients" and isinstance(value, list):
            out[key] = [change(v) if isinstance(v, str) else v for v in value]
    return out


_PATIENT_OBJECTS = ("patient:", "Patient/")  # an object naming a patient: the clinicians' API, FHIR


def _patient_object(value: str | None, change: Callable[[str], str]) -> str | None:
    for prefix in _PATIENT_OBJECTS:
        if value is not None and value.startswith(prefix):
            return prefix + change(value[len(prefix):])
    return value


def _touches_patient(entry: Mapping[str, Any], detail: Mapping[str, Any]) -> bool:
    return bool(entry.get("patient_id")) or (entry.get("object") or "").startswith(_PATIENT_OBJECTS) or any(
        k.endswith("patient_id") or k == "patients" for k in detail)


def open_entry(row: Mapping[str, Any], fields: "PatientFields | None") -> dict[str, Any]:
    """An ``audit_entry`` row as its leaf holds it: patient identifiers opened, ``detail`` parsed."""
    entry = dict(row)
    detail = entry.get("detail")
    if isinstance(detail, str):
        try:
            detail = entry["detail"] = json.loads(detail)
        except ValueError:  # an entry edited into invalid JSON: verification names it
            return entry
    if fields is None or not _touches_patient(entry, detail if isinstance(detail, dict) else {}):
        return entry
    def opened(stored: str) -> str:
        try:
            return fields.open_pid(stored)
        except CryptoError:  # an edited value: left as stored, its leaf no longer matches (verification names it)
            return stored
    entry["patient_id"] = opened(entry["patient_id"]) if entry.get("patient_id") else entry.get("patient_id")
    if "object" in entry:
        entry["object"] = _patient_object(entry["object"], opened)
    if isinstance(detail, dict):
        entry["detail"] = _patient_detail(detail, opened)
    return entry


def stored_row(entry: Mapping[str, Any], fields: "PatientFields | None") -> dict[str, Any]:
    """An entry as the database keeps it: patient identifiers sealed, ``detail`` as JSON text."""
    row = dict(entry)
    detail = entry["detail"]
    if _touches_patient(entry, detail):
        if fields is None:
            raise RuntimeError("an audit entry names a patient but the database has no patient keys")
        row["patient_id"] = fields.pid(entry.get("patient_id"))
        row["object"] = _patient_object(entry.get("object"), fields.pid)
        detail = _patient_detail(detail, fields.pid)
    row["detail"] = json.dumps(detail, sort_keys=True)
    return row


def leaf_bytes(entry: Mapping[str, Any]) -> bytes:
    """The entry as the chain and the Merkle tree hash it: JCS of its ten fields, ``detail`` parsed."""
    body = {k: entry[k] for k in ENTRY_FIELDS}
    if isinstance(body["detail"], str):
        body["detail"] = json.loads(body["detail"])
    return jcs(body)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + leaf_bytes(entry)).hexdigest()


async def _catch_up_tree(db: Writer, frontier: Frontier, upto: int) -> list[tuple[int, int, bytes]]:
    """Add the leaves of entries ``frontier.size + 1 .. upto`` (written before the tree existed)."""
    made: list[tuple[int, int, bytes]] = []
    while frontier.size < upto:
        rows = await db.fetch_all(
            "SELECT * FROM audit_entry WHERE seq > :a AND seq <= :b ORDER BY seq",
            {"a": frontier.size, "b": min(upto, frontier.size + 10_000)})
        if not rows or int(rows[0]["seq"]) != frontier.size + 1:
            raise RuntimeError(f"audit entry {frontier.size + 1} is missing: the tree cannot be built")
        for row in rows:
            made += frontier.append(leaf_hash(leaf_bytes(open_entry(row._mapping, db.store.field_keys))))
    return made


async def _store_nodes(db: Writer, made: list[tuple[int, int, bytes]]) -> None:
    await db.run_many("INSERT INTO audit_node (level, idx, hash) VALUES (:level, :idx, :hash)",
                      [{"level": level, "idx": index, "hash": digest.hex()} for level, index, digest in made])


async def append(db: Writer, event: AuditEvent) -> int:
    """Append one entry inside the caller's write transaction (``async with Db.write() as db``)."""
    return (await append_many(db, [event]))[0]


async def append_many(db: Writer, events: Sequence[AuditEvent]) -> list[int]:
    """Append entries in order inside the caller's write transaction; their seqs.

    The first statement moves the head row, which takes its write lock, so appends from several
    processes (server, CLI) still form one chain. The head this process wrote last is remembered
    (``Writer.memo``) and the move is conditional on it: three statements, however many entries,
    sent as plain SQL to the driver (on SQLite each costs a thread hop, which is what bounds the
    append rate). When another transaction moved the head (another process, a rollback), the head
    is read under the same lock and the entries computed again from it.
    """
    if not events:
        return []
    for event in events:
        check_action(event.action)  # the serving route declares it (declare.py; found by the tests)
    head: _Head | None = None
    known: _Head | None = db.memo.get(_HEAD)
    if known is not None:
        rows, made, head = _extend(known, events, db.store.field_keys)
        if not await db.run(
                "UPDATE audit_head SET seq = :seq, entry_hash = :h, tree_size = :seq, frontier = :f "
                "WHERE id = 1 AND seq = :was AND entry_hash = :was_h AND tree_size = :was RETURNING id",
                {"seq": head.seq, "h": head.entry_hash, "f": head.frontier.to_hex(),
                 "was": known.seq, "was_h": known.entry_hash}):
            head = None  # another transaction moved it
    if head is None:
        (last, prev, size, edge), = await db.run(
            "UPDATE audit_head SET seq = seq + :k WHERE id = 1 RETURNING seq, entry_hash, tree_size, frontier",
            {"k": len(events)})
        base = int(last) - len(events)
        frontier = Frontier.from_hex(int(size), edge)
        caught = await _catch_up_tree(db, frontier, base) if frontier.size != base else []
        rows, made, head = _extend(_Head(base, prev, frontier), events, db.store.field_keys)
        made = caught + made
        await db.run("UPDATE audit_head SET entry_hash = :h, tree_size = :n, frontier = :f WHERE id = 1",
                     {"h": head.entry_hash, "n": head.seq, "f": head.frontier.to_hex()})
    await db.run_many(_INSERT_ENTRY, rows)
    await _store_nodes(db, made)
    db.memo[_HEAD] = head
    return list(range(head.seq - len(events) + 1, head.seq + 1))


@dataclasses.dataclass(frozen=True)
class _Head:
    """The chain's last entry and the tree's right edge over every entry (never mutated)."""

    seq: int
    entry_hash: str
    frontier: Frontier


_HEAD = "audit.head"
_NodeHash = tuple[int, int, bytes]  # (level, index, hash) of a tree node an append completes


def _extend(head: _Head, events: Sequence[AuditEvent],
            fields: "PatientFields | None") -> tuple[list[dict[str, Any]], list[_NodeHash], _Head]:
    """The rows of ``events`` chained after ``head``, the tree nodes they complete, the new head.

    An event may name its patient by the identifier or by its stored (sealed) form: the leaf holds
    the identifier, the row the sealed form."""
    frontier = head.frontier.copy()
    prev = head.entry_hash
    rows: list[dict[str, Any]] = []
    made: list[_NodeHash] = []
    ts = now_iso("microseconds")
    for seq, event in enumerate(events, start=head.seq + 1):
        entry = open_entry({"seq": seq, "ts": ts, "actor": event.actor, "device_id": event.device_id,
                            "action": event.action, "outcome": event.outcome, "patient_id": event.patient_id,
                            "object": event.object, "detail": dict(event.detail), "address": event.address}, fields)
        leaf = jcs(entry)
        digest = hashlib.sha256(bytes.fromhex(prev) + leaf).hexdigest()
        made += frontier.append(leaf_hash(leaf))
        rows.append({**stored_row(entry, fields), "prev_hash": prev, "entry_hash": digest})
        prev = digest
    return rows, made, _Head(head.seq + len(events), prev, frontier)


_COLUMNS = (*ENTRY_FIELDS, "prev_hash", "entry_hash")
_INSERT_ENTRY = f"INSERT INTO audit_entry ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"


async def ensure_tree(store: Db) -> int:
    """Bring the Merkle tree up to the chain (entries written before migration 0002); its size."""
    async with store.write() as db:
        head = await db.fetch_one("SELECT seq, tree_size, frontier FROM audit_head WHERE id = 1")
        frontier = Frontier.from_hex(int(head["tree_size"]), head["frontier"])
        if frontier.size != int(head["seq"]):
            await _store_nodes(db, await _catch_up_tree(db, frontier, int(head["seq"])))
            await db.execute("UPDATE audit_head SET tree_size = :n, frontier = :f WHERE id = 1",
                             {"n": frontier.size, "f": frontier.to_hex()})
        return frontier.size


class _Coalescer:
    """Entries recorded while a previous append is committing go in together, in arrival order.

    The same idea as the database's group commit, one level up: an append costs the same three
    statements whether it writes one entry or a hundred. A caller still returns only once its
    entry is committed, with its own seq; one bad event fails alone (the group is retried one by
    one); a flush that is stopped (shutdown) fails the entries it leaves, never leaves them waiting.
    """

    def __init__(self, store: Db) -> None:
        self.store = store
        self.pending: list[tuple[AuditEvent, asyncio.Future[int]]] = []
        self.task: asyncio.Task[None] | None = None  # held here: asyncio only holds tasks weakly

    async def record(self, event: AuditEvent) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending.append((event, future))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._flush())
            self.task.add_done_callback(self._finished)
        return await future

    async def _flush(self) -> None:
        while self.pending:
            group, self.pending = self.pending, []
            await self._write(group)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """A flush that ended early (cancelled, even before it started) answers what it leaves."""
        if self.task is not task:
            return  # a newer flush owns what is pending
        self.task = None
        stranded, self.pending = self.pending, []
        _fail(stranded, GroupCommitError("the audit entry was not recorded: its writer was stopped"))

    async def _write(self, group: list[tuple[AuditEvent, asyncio.Future[int]]]) -> None:
        try:
            async with self.store.write() as db:
                seqs = await append_many(db, [event for event, _ in group])
        except Exception as exc:
            if len(group) > 1:
                for one in group:
                    await self._write([one])
                return
            _fail(group, exc)
            return
        except BaseException as exc:
            error = GroupCommitError("the audit entry was not recorded: its writer was stopped")
            error.__cause__ = exc
            _fail(group, error)
            raise
        for (_, future), seq in zip(group, seqs, strict=True):
            if not future.done():
                future.set_result(seq)


def _fail(group: list[tuple[AuditEvent, asyncio.Future[int]]], error: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(error)


_coalescers: "weakref.WeakKeyDictionary[Db, _Coalescer]" = weakref.WeakKeyDictionary()


async def record(store: Db, event: AuditEvent) -> int:
    """Append one entry in a transaction of its own (for events with nothing else to write).

    Concurrent calls share transactions (see ``_Coalescer``); each returns once its entry is durable.
    """
    check_action(event.action)  # here, in the caller's task: the coalescer appends from its own
    coalescer = _coalescers.get(store)
    if coalescer is None:
        coalescer = _coalescers[store] = _Coalescer(store)
    return await coalescer.record(event)


async def record_many(store: Db, events: Sequence[AuditEvent]) -> list[int]:
    """Append several entries in one transaction (a batch's photos, a bulk read)."""
    async with store.write() as db:
        return await append_many(db, events)


@dataclasses.dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_rows(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None = None,
                start: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Check a chain of rows in sequence order; ``head`` (the audit_head row) catches truncation.

    ``start`` is ``(seq, entry_hash)`` of the last entry before the rows: after a retention cut,
    the pruned range's last hash from the signed summary.
    """
    prev = start[1]
    expected_seq = start[0] + 1
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
    if head is not None and (int(head["seq"]) != expected_seq - 1 or head["entry_hash"] != prev):
        return ChainReport(False, count, expected_seq, "entries after the last one found were removed")
    return ChainReport(True, count)


async def chain_start(store: Db) -> tuple[int, str]:
    """Where the remaining chain starts: after the last retention cut, else at the genesis."""
    row = await store.fetch_one("SELECT summary FROM audit_prune ORDER BY cut DESC LIMIT 1")
    if row is None:
        return (0, GENESIS)
    summary = json.loads(row["summary"])["summary"]
    return (int(summary["cut"]), summary["last_entry_hash"])


async def verify_chain(store: Db) -> ChainReport:
    head = await store.fetch_one("SELECT seq, entry_hash FROM audit_head WHERE id = 1")
    # up to the head read first: entries a running server appends meanwhile are the next check's (the head
    # and its entries commit together, so what is at or below it is all there)
    rows = [open_entry(r, store.field_keys) for r in await store.fetch_all(
        "SELECT * FROM audit_entry WHERE seq <= :h ORDER BY seq", {"h": int(head["seq"]) if head else 0})]
    return verify_rows(rows, head, await chain_start(store))
