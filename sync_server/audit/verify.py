"""Offline verification of an audit log against a checkpoint the officer trusts. Pure: no I/O.

Nothing the server says now is trusted: the tree is recomputed from the entries, the trusted
checkpoint is checked with the verifier key the officer kept, and every checkpoint or pruning
summary the export carries counts only once signed by that key. The first bad entry is named:
by the hash chain for edits, deletions, insertions and reorderings; by the trusted root (and the
per-entry leaf hashes the server stored when it still was honest) for a chain rewritten from
scratch; by the trusted size for truncation.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Iterable, Mapping

from crypto import CryptoError, key_id, verify_document

from . import merkle
from .checkpoint import Checkpoint, CheckpointError, Verifier, check_not_older, open_checkpoint
from .log import GENESIS, leaf_bytes


@dataclasses.dataclass(frozen=True)
class Report:
    ok: bool
    entries: int = 0
    size: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    trusted_size: int | None = None
    latest_size: int | None = None
    warnings: tuple[str, ...] = ()
    # (size, entry hash, frontier hex) at the largest signed checkpoint whose root was recomputed
    resume_point: tuple[int, str, str] | None = None


def _fail(problem: str, **kw: Any) -> Report:
    return Report(False, problem=problem, **kw)


def open_summary(summary: Mapping[str, Any], verifiers: list[Verifier]) -> tuple[Checkpoint, merkle.Frontier]:
    """Check a retention summary's signature and that its frontier is the signed tree at the cut."""
    keys = {key_id(v.public_key): v.public_key for v in verifiers}
    try:
        verify_document(summary["summary"], summary["signature"], keys)
    except (CryptoError, KeyError, TypeError) as exc:
        raise CheckpointError(f"the retention summary is not signed by a trusted key ({exc})") from None
    body = summary["summary"]
    checkpoint = open_checkpoint(body["checkpoint"], verifiers)
    frontier = merkle.Frontier.from_hex(int(body["cut"]), body["frontier"])
    if checkpoint.size != frontier.size or frontier.root() != checkpoint.root:
        raise CheckpointError("the retention summary's tree edge does not match its signed checkpoint")
    return checkpoint, frontier


def verify_log(entries: Iterable[Mapping[str, Any]], trusted_note: str, verifiers: list[Verifier],
               checkpoints: Iterable[str] = (), summary: Mapping[str, Any] | None = None,
               resume: tuple[int, str, merkle.Frontier] | None = None) -> Report:
    """Verify ``entries`` (rows in seq order) against ``trusted_note`` and the export's checkpoints.

    ``resume`` is ``(size, entry hash, tree edge)`` where an earlier verification by this same code
    stopped: ``entries`` then start after it and only they are checked (the server's incremental
    check; the offline verifier never passes it). It must not lie beyond the trusted checkpoint.
    """
    try:
        trusted = open_checkpoint(trusted_note, verifiers)
    except CheckpointError as exc:
        return _fail(f"your trusted checkpoint does not verify: {exc}")
    warnings: list[str] = []
    signed: list[Checkpoint] = []
    for note in checkpoints:
        try:
            signed.append(open_checkpoint(note, verifiers))
        except CheckpointError as exc:
            if "forged" in str(exc):
                return _fail(f"a checkpoint in the export is forged: {exc}", trusted_size=trusted.size)
            warnings.append(f"a checkpoint not signed by your key was skipped ({exc})")

    start_seq, prev = 0, GENESIS
    frontier = merkle.Frontier()
    if summary is not None:
        try:
            cut_checkpoint, frontier = open_summary(summary, verifiers)
        except CheckpointError as exc:
            return _fail(str(exc), trusted_size=trusted.size)
        start_seq, prev = frontier.size, summary["summary"]["last_entry_hash"]
        if trusted.size < start_seq:
            proof = summary["summary"].get("consistency", {}).get(str(trusted.size))
            try:
                merkle.verify_consistency(trusted.size, start_seq, trusted.root, cut_checkpoint.root,
                                          [bytes.fromhex(h) for h in proof or []])
            except (merkle.ProofError, ValueError) as exc:
                return _fail(f"the log pruned before your trusted checkpoint is not consistent with it: {exc}",
                             trusted_size=trusted.size)
        signed = [c for c in signed if c.size >= start_seq]
    if resume is not None:
        if resume[0] < start_seq or resume[0] > trusted.size:
            return _fail("the point to resume verification from is outside the log", trusted_size=trusted.size)
        start_seq, prev, frontier = resume[0], resume[1], resume[2].copy()
        signed = [c for c in signed if c.size >= start_seq]
    claimed = frontier.copy()
    wanted = {c.size for c in signed} | {trusted.size}
    roots: dict[int, bytes] = {}
    claimed_roots: dict[int, bytes] = {}
    if frontier.size in wanted:
        roots[frontier.size] = claimed_roots[frontier.size] = frontier.root()
    first_leaf_diff: int | None = None
    edge = max(wanted)
    resume_point = (frontier.size, prev, frontier.to_hex()) if frontier.size == edge else None
    expected, count = start_seq + 1, 0
    for row in entries:
        seq = int(row["seq"])
        if seq != expected:
            kind = "missing (deleted)" if seq > expected else "repeated or out of order (inserted or reordered)"
            return _fail(f"entry {expected} is {kind}", entries=count, first_bad_seq=expected,
                         trusted_size=trusted.size)
        leaf = leaf_bytes(row)
        leaf_digest = merkle.leaf_hash(leaf)
        stated = row.get("leaf_hash")
        stated_digest = bytes.fromhex(stated) if stated else leaf_digest
        if stated_digest != leaf_digest and first_leaf_diff is None:
            first_leaf_diff = seq
        # a forged entry with a well-made hash breaks the link of the next one; the leaf hash the
        # server stored when it wrote the entry points at the forged one itself
        bad = first_leaf_diff if first_leaf_diff is not None else seq
        if row["prev_hash"] != prev:
            return _fail(f"entry {seq}'s link to the previous entry is broken (an entry was inserted, "
                         "deleted or moved here)", entries=count, first_bad_seq=bad, trusted_size=trusted.size)
        digest = hashlib.sha256(bytes.fromhex(prev) + leaf).hexdigest()
        if digest != row["entry_hash"]:
            return _fail(f"entry {seq}'s content does not match its hash (edited)", entries=count,
                         first_bad_seq=bad, trusted_size=trusted.size)
        frontier.append(leaf_digest)
        claimed.append(stated_digest)
        if frontier.size in wanted:
            roots[frontier.size] = frontier.root()
            claimed_roots[frontier.size] = claimed.root()
            if frontier.size == edge:
                resume_point = (frontier.size, row["entry_hash"], frontier.to_hex())
        prev = row["entry_hash"]
        expected += 1
        count += 1
    size = frontier.size
    base = dict(entries=count, trusted_size=trusted.size)

    def locate(bad: Checkpoint) -> Report:
        if claimed_roots.get(bad.size) == bad.root and first_leaf_diff is not None:
            return _fail(f"entry {first_leaf_diff} differs from what the signed checkpoint of size {bad.size} "
                         "committed to: the chain was rewritten from there", first_bad_seq=first_leaf_diff, **base)
        good = max((c.size for c in signed if c.size < bad.size and roots.get(c.size) == c.root), default=start_seq)
        return _fail(f"the entries up to {bad.size} do not hash to the signed root for that size: an entry between "
                     f"{good + 1} and {bad.size} was changed and the chain rewritten", first_bad_seq=good + 1, **base)

    for checkpoint in sorted([trusted, *signed], key=lambda c: c.size):
        if checkpoint.size > size:
            return _fail(f"the log ends at entry {size} but a checkpoint signed by your key covers "
                         f"{checkpoint.size} entries: entries from {size + 1} on were removed (truncated "
                         "or rolled back)", first_bad_seq=size + 1, **base)
        if roots[checkpoint.size] != checkpoint.root:
            return locate(checkpoint)
    latest = max(signed, key=lambda c: c.size, default=None)
    if signed:
        try:
            check_not_older(trusted, signed[-1])
        except CheckpointError as exc:
            return _fail(str(exc), first_bad_seq=signed[-1].size + 1, **base)
    if latest is None or latest.size < size:
        warnings.append(f"entries {(latest.size if latest else start_seq) + 1} to {size} are not yet covered "
                        "by a signed checkpoint")
    return Report(True, count, size, trusted_size=trusted.size, latest_size=latest.size if latest else None,
                  warnings=tuple(warnings), resume_point=resume_point)


def read_jsonl(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)
