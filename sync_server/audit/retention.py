"""Retention: prune entries older than the retention period, leaving a signed summary.

The summary holds the cut (the last pruned seq), that entry's chain hash, the tree's right edge
at the cut and a checkpoint of the tree at the cut, plus a consistency proof from every earlier
checkpoint size to the cut (so an officer holding an old checkpoint can still cross the cut).
It is signed with the server's Ed25519 key (``crypto.sign_document``). Tree nodes are only
hashes and are all kept, so every remaining entry keeps its inclusion and consistency proofs.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from crypto import KeyStore, sign_document

from ..db import Db
from . import merkle
from .checkpoint import Checkpoint, sign_note
from .log import AuditEvent, append
from .tree import consistency_proof
from ..clock import iso, utc_now


async def prune(store: Db, keys: KeyStore, origin: str, retention_days: int,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Prune entries older than ``retention_days``; return the signed summary, or ``None``."""
    now = now or utc_now()
    cutoff = iso(now - timedelta(days=retention_days), "microseconds")
    cut = await store.fetch_val("SELECT MAX(seq) FROM audit_entry WHERE ts < :c", {"c": cutoff})
    if cut is None:
        return None
    cut = int(cut)
    # the cut's frontier: the perfect subtrees covering [0, cut), all stored in audit_node
    edge = await _nodes(store, merkle.perfect_nodes(0, cut))
    frontier = merkle.Frontier(cut, edge)
    root = frontier.root()
    last_hash = await store.fetch_val("SELECT entry_hash FROM audit_entry WHERE seq = :s", {"s": cut})
    sizes = [int(r["size"]) for r in await store.fetch_all(
        "SELECT DISTINCT size FROM audit_checkpoint WHERE size < :c AND size > 0", {"c": cut})]
    proofs = {str(s): [h.hex() for h in await consistency_proof(store, s, cut)] for s in sizes}
    body = {
        "origin": origin, "cut": cut, "last_entry_hash": last_hash, "frontier": frontier.to_hex(),
        "checkpoint": sign_note(Checkpoint(origin, cut, root).text(), origin, keys.sign_private_key),
        "consistency": proofs, "pruned_before": cutoff,
    }
    summary = {"summary": body, "signature": sign_document(body, keys.sign_private_key, keys.sign_key_id)}
    async with store.write() as db:
        await db.execute("INSERT INTO audit_prune (cut, summary, created_at) VALUES (:c, :s, :t)",
                         {"c": cut, "s": json.dumps(summary, sort_keys=True), "t": iso(now, "microseconds")})
        await db.execute("DELETE FROM audit_entry WHERE seq <= :c", {"c": cut})
        await append(db, AuditEvent(action="audit.prune", actor="system:retention",
                                    detail={"cut": cut, "retention_days": retention_days}))
    return summary


async def _nodes(store: Db, nodes: list[tuple[int, int]]) -> list[bytes]:
    out = []
    for level, index in nodes:
        value = await store.fetch_val("SELECT hash FROM audit_node WHERE level = :l AND idx = :i",
                                      {"l": level, "i": index})
        if value is None:
            raise merkle.ProofError(f"tree node ({level}, {index}) is missing")
        out.append(bytes.fromhex(value))
    return out
