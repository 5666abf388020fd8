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

    def json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "problem"}


def _checkpoint_json(row: Mapping[str, Any]) -> dict[str, Any]:
    root = base64.b64encode(bytes.fromhex(row["root_hash"])).decode()
    return {"size": int(row["size"]), "root_hash": root, "created_at": row["created_at"]}


async def verify_status(store: Db, keys: KeyStore, origin: str) -> Status:
    """Recompute the chain and the tree from every entry up to the head, against the latest signed
    checkpoint (its signature, its root) and every earlier one; name the first bad entry.

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
    loop = asyncio.get_running_loop()
    last = [0, 0]  # seq of the last row read, rows read

    def rows() -> Iterator[dict[str, Any]]:
        after = -1
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
        report = await asyncio.to_thread(verify_log, rows(), latest["note"], verifiers(keys, origin), notes, summary)
    except (ValueError, KeyError, TypeError) as exc:  # an entry edited into something unreadable
        return Status("broken", _checkpoint_json(latest), last[1] - 1, last[0], now_iso(),
                      f"entry {last[0]} is unreadable ({type(exc).__name__})")
    status = Status("verified" if report.ok else "broken", _checkpoint_json(latest), report.entries,
                    report.first_bad_seq, now_iso(), report.problem)
    if report.ok and report.size != upto:
        # the head counts more entries than are left: the end of the log was cut off
        status = dataclasses.replace(status, status="broken", first_bad_seq=report.size + 1,
                                     problem="entries after the last one found were removed")
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
