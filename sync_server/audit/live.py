"""The live log checked on the server with the offline verifier's own code (``verify.py``, ``merkle.py``).

The officer's screens show these results; an officer who trusts nothing the server says still runs
``clinphoto audit verify --trusted`` on an export. Both paths share every line that decides.
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import Any, Iterator, Mapping

from crypto import KeyStore

from ..db import Db
from . import merkle, tree
from .checkpoint import CheckpointError, Verifier, open_checkpoint, verifier
from .log import leaf_bytes
from .search import EXPORT_PAGE, head_seq, rows_after
from .verify import verify_log
from ..clock import now_iso


def verifiers(keys: KeyStore, origin: str) -> list[Verifier]:
    """Every signing key the server holds (older ones sign older checkpoints) as C2SP verifiers."""
    return [verifier(origin, public) for public in keys.sign_public_keys.values()]



@dataclasses.dataclass(frozen=True)
class Status:
    status: str  # verified | broken | no_checkpoint
    checkpoint: dict[str, Any] | None
    entries_checked: int
    first_bad_seq: int | None
    checked_at: str
    problem: str | None = None
    mode: str = "full"  # full: recomputed from the first entry; incremental: from ``verified_from`` on
    verified_from: int = 0  # entries up to this one were verified by an earlier check and not read again

    def json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "problem"}


def _checkpoint_json(row: Mapping[str, Any]) -> dict[str, Any]:
    root = base64.b64encode(bytes.fromhex(row["root_hash"])).decode()
    return {"size": int(row["size"]), "root_hash": root, "created_at": row["created_at"]}


async def _resume_point(store: Db) -> tuple[int, str, merkle.Frontier] | None:
    """Where the last verification stopped, if it still stands: the entry there has the hash it had,
    and the signed checkpoint of that size has the root the tree edge gives (cheap, two rows)."""
    row = await store.fetch_one("SELECT size, entry_hash, frontier, root_hash FROM audit_verified WHERE id = 1")
    if row is None:
        return None
    size = int(row["size"])
    frontier = merkle.Frontier.from_hex(size, row["frontier"])
    entry = await store.fetch_one("SELECT entry_hash FROM audit_entry WHERE seq = :s", {"s": size})
    signed = await store.fetch_one("SELECT root_hash FROM audit_checkpoint WHERE size = :s ORDER BY id DESC LIMIT 1",
                                   {"s": size})
    if (entry is None or entry["entry_hash"] != row["entry_hash"] or signed is None
            or signed["root_hash"] != frontier.root().hex() or row["root_hash"] != signed["root_hash"]):
        return None  # the ground under the point moved: check everything again
    return size, row["entry_hash"], frontier


async def _keep_resume_point(store: Db, point: tuple[int, str, str]) -> None:
    size, entry_hash, frontier_hex = point
    root = merkle.Frontier.from_hex(size, frontier_hex).root().hex()
    values = {"size": size, "h": entry_hash, "f": frontier_hex, "r": root, "t": now_iso()}
    async with store.write() as db:
        await db.execute("DELETE FROM audit_verified WHERE id = 1")
        await db.execute("INSERT INTO audit_verified (id, size, entry_hash, frontier, root_hash, verified_at) "
                         "VALUES (1, :size, :h, :f, :r, :t)", values)


async def verify_status(store: Db, keys: KeyStore, origin: str, full: bool = False) -> Status:
    """Recompute the chain and the tree up to the head, against the latest signed checkpoint (its
    signature, its root) and every later-than-verified one; name the first bad entry.

    By default only the entries after the point the last successful check reached are read (that
    point is the largest signed checkpoint it recomputed); ``full`` recomputes everything from the
    first entry, as the offline verifier does, and catches a change before that point.

    Rows are read a page at a time on the event loop while the verifier runs in a thread, so memory
    stays bounded and the server keeps answering.
    """
    latest = await tree.latest_checkpoint(store)
    if latest is None:
        return Status("no_checkpoint", None, 0, None, now_iso())
    upto = await head_seq(store)
    notes = [r["note"] for r in await store.fetch_all("SELECT note FROM audit_checkpoint ORDER BY id")]
    summary_row = await store.fetch_one("SELECT summary FROM audit_prune ORDER BY cut DESC LIMIT 1")
    summary = json.loads(summary_row["summary"]) if summary_row else None
    resume = None if full else await _resume_point(store)
    if resume is not None and (resume[0] > int(latest["size"]) or (summary and resume[0] < int(summary["summary"]["cut"]))):
        resume = None
    start = resume[0] if resume else 0
    mode = "incremental" if resume else "full"
    loop = asyncio.get_running_loop()
    last = [0, 0]  # seq of the last row read, rows read

    def rows() -> Iterator[dict[str, Any]]:
        after = start if resume else -1
        while True:  # one hop to the event loop per page, not per row
            page = asyncio.run_coroutine_threadsafe(rows_after(store, after, upto=upto, size=EXPORT_PAGE),
                                                    loop).result()
            for row in page:
                last[0], last[1] = int(row["seq"]), last[1] + 1
                yield row
            if len(page) < EXPORT_PAGE:
                return
            after = int(page[-1]["seq"])

    try:
        report = await asyncio.to_thread(verify_log, rows(), latest["note"], verifiers(keys, origin), notes, summary,
                                         resume)
    except (ValueError, KeyError, TypeError) as exc:  # an entry edited into something unreadable
        return Status("broken", _checkpoint_json(latest), last[1] - 1, last[0], now_iso(),
                      f"entry {last[0]} is unreadable ({type(exc).__name__})", mode, start)
    status = Status("verified" if report.ok else "broken", _checkpoint_json(latest), report.entries,
                    report.first_bad_seq, now_iso(), report.problem, mode, start)
    if report.ok and report.size != upto:
        # the head counts more entries than are left: the end of the log was cut off
        status = dataclasses.replace(status, status="broken", first_bad_seq=report.size + 1,
                                     problem="entries after the last one found were removed")
    if status.status == "verified" and report.resume_point is not None:
        await _keep_resume_point(store, report.resume_point)
    elif status.status == "broken":
        async with store.write() as db:  # the next check starts from the first entry again
            await db.execute("DELETE FROM audit_verified WHERE id = 1")
    return status


async def inclusion(store: Db, keys: KeyStore, origin: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's inclusion proof in the latest checkpoint's tree, checked against its signed root.

    An entry newer than the latest checkpoint gets a new checkpoint first (signing costs little, and
    an officer looking at a fresh entry wants it covered).
    """
    seq = int(row["seq"])
    latest = await tree.latest_checkpoint(store)
    if latest is None or int(latest["size"]) < seq:
        await tree.issue_checkpoint(store, keys, origin, reason="entry detail")
        latest = await tree.latest_checkpoint(store)
    assert latest is not None
    size = int(latest["size"])
    proof: list[bytes] = []
    verified = False
    try:
        _, proof = await tree.inclusion_proof(store, seq - 1, size)
        checkpoint = open_checkpoint(latest["note"], verifiers(keys, origin))
        if checkpoint.size != size:
            raise CheckpointError("the checkpoint's signed size differs from its stored size")
        merkle.verify_inclusion(seq - 1, size, merkle.leaf_hash(leaf_bytes(row)), proof, checkpoint.root)
        verified = True
    except (merkle.ProofError, CheckpointError, ValueError):
        verified = False
    return {"size": size, "proof": [base64.b64encode(h).decode() for h in proof], "verified": verified}
