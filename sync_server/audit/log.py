"""The audit trail: append-only entries, each chained to the one before by SHA-256.

``entry_hash = SHA-256(prev_hash || leaf)`` where ``leaf = JCS(entry without its hashes)``
(:func:`leaf_bytes`); the first entry chains to 64 zeros. The same leaf bytes are the leaves of
an RFC 9162 Merkle tree (``merkle.py``) kept beside the chain: each append stores the nodes it
completes and the tree's right edge in ``audit_head``, so appends never recompute the tree. Editing, deleting, inserting or reordering any entry breaks every hash after it, which
``verify_chain`` (and ``clinphoto audit verify``) reports with the first bad sequence number.
Entries hold who, which device, what, on which patient, the outcome and the time; never image
bytes. Outcomes follow FHIR AuditEvent: 0 success, 4 minor failure (bad input), 8 serious
failure, 12 major failure.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import weakref
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from crypto import canonical_json

from ..db import Db
from .merkle import Frontier, leaf_hash

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
            if type(key) is not str or not (key.isascii() or max(key) < "\U00010000") or not _plain(item):
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


def leaf_bytes(entry: Mapping[str, Any]) -> bytes:
    """The entry as the chain and the Merkle tree hash it: JCS of its ten fields, ``detail`` parsed."""
    body = {k: entry[k] for k in ENTRY_FIELDS}
    if isinstance(body["detail"], str):
        body["detail"] = json.loads(body["detail"])
    return jcs(body)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + leaf_bytes(entry)).hexdigest()


async def _catch_up_tree(db: Any, frontier: Frontier, upto: int) -> list[tuple[int, int, bytes]]:
    """Add the leaves of entries ``frontier.size + 1 .. upto`` (written before the tree existed)."""
    made: list[tuple[int, int, bytes]] = []
    while frontier.size < upto:
        rows = await db.fetch_all(
            "SELECT * FROM audit_entry WHERE seq > :a AND seq <= :b ORDER BY seq",
            {"a": frontier.size, "b": min(upto, frontier.size + 10_000)})
        if not rows or int(rows[0]["seq"]) != frontier.size + 1:
            raise RuntimeError(f"audit entry {frontier.size + 1} is missing: the tree cannot be built")
        for row in rows:
            made += frontier.append(leaf_hash(leaf_bytes(dict(row._mapping))))
    return made


async def _store_nodes(db: Any, made: list[tuple[int, int, bytes]]) -> None:
    for start in range(0, len(made), 200):  # one statement per append in the common case
        chunk = made[start:start + 200]
        values = ", ".join(f"(:l{i}, :i{i}, :h{i})" for i in range(len(chunk)))
        params: dict[str, Any] = {}
        for i, (level, index, digest) in enumerate(chunk):
            params.update({f"l{i}": level, f"i{i}": index, f"h{i}": digest.hex()})
        await db.execute(f"INSERT INTO audit_node (level, idx, hash) VALUES {values}", params)


async def append(db: Any, event: AuditEvent) -> int:
    """Append one entry inside the caller's write transaction (``async with Db.write() as db``)."""
    return (await append_many(db, [event]))[0]


async def append_many(db: Any, events: Sequence[AuditEvent]) -> list[int]:
    """Append entries in order inside the caller's write transaction; their seqs.

    The first statement takes the head row's write lock (and reserves the seqs), so appends from
    several processes (server, CLI) still form one chain. Four statements, however many entries:
    on SQLite each statement costs a thread hop, which is what bounds the append rate.
    """
    if not events:
        return []
    head = await db.fetch_one(
        "UPDATE audit_head SET seq = seq + :k WHERE id = 1 RETURNING seq, entry_hash, tree_size, frontier",
        {"k": len(events)})
    first, prev = int(head["seq"]) - len(events) + 1, head["entry_hash"]
    frontier = Frontier.from_hex(int(head["tree_size"]), head["frontier"])
    made = await _catch_up_tree(db, frontier, first - 1) if frontier.size != first - 1 else []
    rows: list[dict[str, Any]] = []
    ts = _now()
    for seq, event in enumerate(events, start=first):
        entry = {"seq": seq, "ts": ts, "actor": event.actor, "device_id": event.device_id, "action": event.action,
                 "outcome": event.outcome, "patient_id": event.patient_id, "object": event.object,
                 "detail": dict(event.detail), "address": event.address}
        leaf = jcs(entry)
        digest = hashlib.sha256(bytes.fromhex(prev) + leaf).hexdigest()
        made += frontier.append(leaf_hash(leaf))
        rows.append({**entry, "detail": json.dumps(entry["detail"], sort_keys=True), "prev_hash": prev,
                     "entry_hash": digest})
        prev = digest
    for start in range(0, len(rows), 100):
        chunk = rows[start:start + 100]
        values = ", ".join("(" + ", ".join(f":{c}{i}" for c in _COLUMNS) + ")" for i in range(len(chunk)))
        params = {f"{c}{i}": row[c] for i, row in enumerate(chunk) for c in _COLUMNS}
        await db.execute(f"INSERT INTO audit_entry ({', '.join(_COLUMNS)}) VALUES {values}", params)
    await _store_nodes(db, made)
    await db.execute("UPDATE audit_head SET entry_hash = :h, tree_size = :n, frontier = :f WHERE id = 1",
                     {"h": prev, "n": frontier.size, "f": frontier.to_hex()})
    return list(range(first, first + len(events)))


_COLUMNS = (*ENTRY_FIELDS, "prev_hash", "entry_hash")


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

    The same idea as the database's group commit, one level up: an append costs four statements
    whether it writes one entry or a hundred. A caller still returns only once its entry is
    committed, with its own seq; one bad event fails alone (the group is retried one by one).
    """

    def __init__(self, store: Db) -> None:
        self.store = store
        self.pending: list[tuple[AuditEvent, asyncio.Future[int]]] = []
        self.running = False

    async def record(self, event: AuditEvent) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending.append((event, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self.pending:
                group, self.pending = self.pending, []
                await self._write(group)
        finally:
            self.running = False

    async def _write(self, group: list[tuple[AuditEvent, asyncio.Future[int]]]) -> None:
        try:
            async with self.store.write() as db:
                seqs = await append_many(db, [event for event, _ in group])
        except BaseException as exc:
            if len(group) > 1 and isinstance(exc, Exception):
                for one in group:
                    await self._write([one])
                return
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), seq in zip(group, seqs):
            if not future.done():
                future.set_result(seq)


_coalescers: "weakref.WeakKeyDictionary[Db, _Coalescer]" = weakref.WeakKeyDictionary()


async def record(store: Db, event: AuditEvent) -> int:
    """Append one entry in a transaction of its own (for events with nothing else to write).

    Concurrent calls share transactions (see ``_Coalescer``); each returns once its entry is durable.
    """
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
    rows = await store.fetch_all("SELECT * FROM audit_entry ORDER BY seq")
    return verify_rows(rows, head, await chain_start(store))
