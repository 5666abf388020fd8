"""The Merkle tree as stored: signed checkpoints, and proofs assembled from ``audit_node`` rows.

Nothing here is trusted by a verifier: every answer is checked against a signed checkpoint.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from crypto import KeyStore

from ..db import Db
from . import merkle
from .checkpoint import Checkpoint, Verifier, sign_note, verifier
from ..clock import now_iso



def log_verifier(keys: KeyStore, origin: str) -> Verifier:
    """The current signing key as a C2SP verifier; the key name is the log's origin."""
    return verifier(origin, keys.sign_private_key.public_key())


@dataclasses.dataclass(frozen=True)
class Signed:
    checkpoint: Checkpoint
    note: str


async def issue_checkpoint(store: Db, keys: KeyStore, origin: str, reason: str, force: bool = False) -> Signed | None:
    """Sign the current tree head and store it; ``None`` when nothing was appended since the last one."""
    async with store.write() as db:
        head = await db.fetch_one("SELECT tree_size, frontier FROM audit_head WHERE id = 1")
        size = int(head["tree_size"])
        last = await db.fetch_one("SELECT size, note FROM audit_checkpoint ORDER BY id DESC LIMIT 1")
        if last is not None and int(last["size"]) == size and not force:
            return None
        root = merkle.Frontier.from_hex(size, head["frontier"]).root()
        checkpoint = Checkpoint(origin, size, root)
        note = sign_note(checkpoint.text(), origin, keys.sign_private_key)
        await db.execute(
            "INSERT INTO audit_checkpoint (size, root_hash, note, reason, created_at) "
            "VALUES (:s, :r, :n, :why, :t)", {"s": size, "r": root.hex(), "n": note, "why": reason, "t": now_iso()})
    return Signed(checkpoint, note)


async def latest_checkpoint(store: Db) -> dict[str, Any] | None:
    row = await store.fetch_one("SELECT * FROM audit_checkpoint ORDER BY id DESC LIMIT 1")
    return dict(row) if row else None


async def tree_size(store: Db) -> int:
    return int(await store.fetch_val("SELECT tree_size FROM audit_head WHERE id = 1"))


async def _assemble(store: Db, ranges: list[tuple[int, int]]) -> list[bytes]:
    wanted = sorted({n for nodes in merkle.proof_nodes(ranges) for n in nodes})
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(wanted), 100):
        chunk = wanted[start:start + 100]
        where = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(len(chunk)))
        params: dict[str, Any] = {}
        for i, (level, index) in enumerate(chunk):
            params.update({f"l{i}": level, f"i{i}": index})
        for row in await store.fetch_all(f"SELECT level, idx, hash FROM audit_node WHERE {where}", params):
            found[(int(row["level"]), int(row["idx"]))] = bytes.fromhex(row["hash"])

    def node(level: int, index: int) -> bytes:
        if (level, index) not in found:
            raise merkle.ProofError("that part of the tree was pruned (retention)")
        return found[(level, index)]
    return merkle.assemble(ranges, node)


async def inclusion_proof(store: Db, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """``(leaf hash, proof)`` for the entry at 0-based ``index`` (seq ``index + 1``) in tree ``size``."""
    if size > await tree_size(store):
        raise merkle.ProofError(f"the tree is smaller than {size}")
    ranges = merkle.inclusion_ranges(index, size)
    leaf = await _assemble(store, [(index, index + 1)])
    return leaf[0], await _assemble(store, ranges)


async def consistency_proof(store: Db, old: int, new: int) -> list[bytes]:
    if new > await tree_size(store):
        raise merkle.ProofError(f"the tree is smaller than {new}")
    return await _assemble(store, merkle.consistency_ranges(old, new))


async def root_at(store: Db, size: int) -> bytes:
    return (await _assemble(store, [(0, size)]))[0] if size else merkle.EMPTY_ROOT
